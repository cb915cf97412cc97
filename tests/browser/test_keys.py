"""My Hopsworks key in a real browser, inside Airflow's UI: paste the key, then browse jobs as yourself."""

from __future__ import annotations

from playwright.sync_api import expect

from hopsworks_ui_plugin import user_keys
from tests.support import screenshot, seed_key

ALICE_KEY = seed_key("alice")


def test_paste_my_key_in_airflows_ui_then_browse_jobs_as_me(browser_login, airflow_server, hopsworks):
    user_keys.remove("alice")
    try:
        page = browser_login("alice")
        page.goto(f"{airflow_server.url}/plugin/hopsworks-my-key")
        frame = page.frame_locator("iframe")
        expect(frame.locator('[data-testid="no-key"]')).to_be_visible()
        frame.locator("input[name=api_key]").fill(ALICE_KEY)
        frame.locator('[data-testid="key-save"]').click()
        expect(frame.locator('[data-testid="key-user"]')).to_have_text("alice")
        expect(frame.locator('[data-testid="key-role"]')).to_have_text("seems to be HOPS_USER")
        expect(frame.locator('[data-testid="key-prefix"]')).to_have_text(f"{ALICE_KEY.split('.')[0]}…")
        assert ALICE_KEY.split(".")[1] not in frame.locator("body").inner_html()
        assert frame.locator("input[name=api_key]").input_value() == ""  # never filled back in
        screenshot(page, "my-key-saved")

        hopsworks.clear_requests()
        page.goto(f"{airflow_server.url}/plugin/hopsworks-projects")
        frame = page.frame_locator("iframe")
        row = frame.locator('tr[data-project="demo_fs"]')
        expect(row).to_be_visible()
        expect(frame.locator('tr[data-project="analytics"]')).to_have_count(0)
        expect(frame.locator('[data-testid="shared-key-notice"]')).to_have_count(0)
        row.locator("a").first.click()
        expect(frame.locator("text=etl").first).to_be_visible()
        screenshot(page, "my-key-jobs")
        asked_as = {r.username for r in hopsworks.requests if r.username}
        assert asked_as == {"alice"}, asked_as  # the pages called Hopsworks with her key only
    finally:
        user_keys.remove("alice")
