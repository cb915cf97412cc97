// Bundles src/editor.js into ../static/vendor/codemirror.bundle.js (one IIFE, no runtime fetches) and
// puts the name, version and license text of every package inside it at the top of the bundle.
import {build} from "esbuild";
import {existsSync, readFileSync, writeFileSync} from "node:fs";
import {join} from "node:path";

const out = "../static/vendor/codemirror.bundle.js";
const result = await build({
  entryPoints: ["src/editor.js"],
  bundle: true,
  format: "iife",
  globalName: "HopsworksCodeMirror",
  minify: true,
  legalComments: "inline",
  target: "es2019",
  metafile: true,
  write: false,
});

// Packages that contributed code: node_modules/<name> or node_modules/@scope/<name>.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match && !packages.has(match[1])) packages.set(match[1], join("node_modules", match[1]));
}
const header = ["/*! codemirror.bundle.js: CodeMirror 6 with Python support, bundled by scripts/build-editor.sh.",
  " * It contains these packages (name, version, license, license text as shipped):", " *"];
for (const [name, dir] of [...packages].sort()) {
  const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  header.push(` * ${name} ${meta.version} (${meta.license})`);
  const file = ["LICENSE", "LICENSE.md", "LICENSE.txt"].map((f) => join(dir, f)).find(existsSync);
  if (!file) throw new Error(`${name} ships no LICENSE file`);
  for (const line of readFileSync(file, "utf8").trim().split("\n")) header.push(` *   ${line.replaceAll("*/", "* /")}`);
  header.push(" *");
}
header.push(" */");
const code = new TextDecoder().decode(result.outputFiles[0].contents);
writeFileSync(out, header.join("\n") + "\n" + code);
console.log(`${out}: ${packages.size} packages, ${code.length} bytes of code`);
