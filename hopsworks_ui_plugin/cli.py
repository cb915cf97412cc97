"""``hopsworks-airflow``: admin commands of the plugin.

``hopsworks-airflow sync-teams --keys-file keys.json --env-file team-connections.env
[--bundle-config bundles.json] [--dry-run]`` makes one Airflow team per Hopsworks project (see
:mod:`hopsworks_ui_plugin.teams`): creates the missing teams in Airflow's DB and the project folders,
writes the team-scoped ``hopsworks_default`` connections into the env file (0600, for the api-server
only) and the DAG bundle list for ``[dag_processor] dag_bundle_config_list``. Projects come from the
pages' connection (``[hopsworks] conn_id``). Runs in the Airflow environment (``AIRFLOW_HOME`` & co.).
Never prints a key.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hopsworks_ui_plugin.errors import HopsworksError, PluginError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hopsworks-airflow")
    sub = parser.add_subparsers(dest="command", required=True)
    sync = sub.add_parser("sync-teams", help="One Airflow team, DAG bundle and hopsworks_default per project")
    sync.add_argument("--keys-file", type=Path,
                      help='JSON {"<project>": "<API key of an account in that project only>"}, mode 0600')
    sync.add_argument("--env-file", type=Path, required=True,
                      help="Where to write the team connections (0600; load into the api-server only)")
    sync.add_argument("--bundle-config", type=Path,
                      help="Write the dag_bundle_config_list JSON here (default: print it)")
    sync.add_argument("--dry-run", action="store_true", help="Check and report; write nothing")
    return parser


def sync_teams(args: argparse.Namespace, out: Any = sys.stdout) -> int:
    from hopsworks_ui_plugin import settings, teams
    from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook
    from hopsworks_ui_plugin.version_compat import AIRFLOW_V_3_3_PLUS, conf_getboolean

    if not AIRFLOW_V_3_3_PLUS:
        raise PluginError("sync-teams needs Airflow >= 3.3 (team-scoped connections for tasks)", status=400)
    if not conf_getboolean("core", "multi_team", False):
        raise PluginError("[core] multi_team is off: turn it on for every component first", status=400)
    service = HopsworksHook(settings.conn_id())
    projects = service.get_projects()
    keys = teams.read_keys_file(args.keys_file) if args.keys_file else {}
    planned = []
    for team in teams.plan(projects, keys):
        if team.key:
            key_hook = HopsworksHook(settings.conn_id(), hw_api_key=team.key)
            try:
                rows = key_hook.get_projects()
                owner = key_hook.get_caller_username()
            except HopsworksError as err:
                raise PluginError(f"The key for {team.project_name!r} cannot list its projects ({err.http_status}): "
                                  "use a HOPS_USER key of an account that is a member of this project only",
                                  status=400) from None
            finally:
                key_hook.close()
            team = teams.check_key(team, rows, owner)
        planned.append(team)

    conn = service.get_connection(settings.conn_id())
    base = {"host": conn.host, "port": conn.port, "schema": conn.schema, "extra": conn.extra_dejson}
    env_text = teams.env_file_text(planned, base)
    bundles = json.dumps(teams.bundle_config(planned), indent=2)
    for team in planned:
        key_note = f"key of {team.key_owner}" if team.key else "NO KEY (its tasks get no hopsworks_default)"
        print(f"project {team.project_name} (id {team.project_id}) -> team {team.team}, bundle "
              f"{teams.bundle_name(team.team)} at {team.folder}: {key_note}", file=out)
    if args.dry_run:
        print("dry run: nothing written", file=out)
        return 0
    for team in planned:
        team.folder.mkdir(parents=True, exist_ok=True)
    created = teams.ensure_teams(t.team for t in planned)
    teams.write_private(args.env_file, env_text)
    print(f"teams created: {', '.join(created) or 'none'}; team connections written to {args.env_file} "
          "(load it into the api-server only)", file=out)
    if args.bundle_config:
        args.bundle_config.write_text(bundles + "\n")
        print(f"bundle list written to {args.bundle_config}: set it as [dag_processor] dag_bundle_config_list",
              file=out)
    else:
        print("[dag_processor] dag_bundle_config_list =", file=out)
        print(bundles, file=out)
    if teams.global_connection_exists():
        print(f"WARNING: a connection {teams.TEAM_CONN_ID!r} without a team exists: every team's tasks can "
              "read it; remove it (and AIRFLOW_CONN_HOPSWORKS_DEFAULT from the workers' environment)", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return sync_teams(args)
    except PluginError as err:
        print(f"hopsworks-airflow {args.command}: {err}", file=sys.stderr)
        return 2
    except HopsworksError as err:
        print(f"hopsworks-airflow {args.command}: Hopsworks: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
