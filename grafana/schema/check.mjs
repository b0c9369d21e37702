#!/usr/bin/env node
// Type-checks dashboard JSON against @grafana/schema's Dashboard type with tsc (`make schema-check`).
//
//     node grafana/schema/check.mjs                  # every grafana/dashboards/*.json
//     node grafana/schema/check.mjs FILE.json ...    # the given files
//
// Each file becomes `const dashboard: DashboardJson = <the file's text>;` in a temporary directory
// (dashboard-json.ts: the Dashboard type as JSON spells it, its annotations typed for Prometheus).  A fresh object
// literal gets TypeScript's excess property checks, so an unknown field is an error as much as a missing or
// mistyped one.  Errors are reported at the JSON file's own line and column.  The pinned packages
// (package-lock.json) are installed with `npm ci` when node_modules lacks them.
// Exit status: 0 all match, 1 type errors, 2 usage or setup error.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DASHBOARD_DIR = path.join(HERE, "..", "dashboards");
const PRELUDE = [`import type { DashboardJson } from ${JSON.stringify(path.join(HERE, "dashboard-json"))};`,
                 "export const dashboard: DashboardJson ="];
const USAGE = "usage: node grafana/schema/check.mjs [DASHBOARD.json ...]";

class SetupError extends Error {}

// Thrown, not exit(): the temporary directory is removed on the way out.
function fail(message) {
  throw new SetupError(message);
}

function installedVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(HERE, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

// Installs when a pinned package is missing or at another version (a stale node_modules would check
// against the wrong schema).
function ensureInstalled() {
  const pinned = JSON.parse(fs.readFileSync(path.join(HERE, "package.json"), "utf8")).devDependencies;
  const stale = Object.entries(pinned).filter(([name, version]) => installedVersion(name) !== version);
  if (stale.length === 0) return pinned;
  process.stderr.write(`npm ci in ${shown(HERE)} ` +
                       `(${stale.map(([n, v]) => `${n}@${v}`).join(", ")} not installed)\n`);
  const npm = spawnSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                        { cwd: HERE, stdio: ["ignore", process.stderr, process.stderr] });
  if (npm.error) fail(`cannot run npm: ${npm.error.message}`);
  if (npm.status !== 0) fail(`npm ci failed (exit ${npm.status})`);
  return pinned;
}

function dashboardFiles(args) {
  if (args.some((a) => a === "-h" || a === "--help")) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const option = args.find((a) => a.startsWith("-"));
  if (option) fail(`unknown option ${option}\n${USAGE}`);
  const files = args.length ? args : fs.readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith(".json")).sort()
    .map((f) => path.join(DASHBOARD_DIR, f));
  if (files.length === 0) fail(`no dashboards in ${DASHBOARD_DIR}: run \`make generate\``);
  return files.map((file) => {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      fail(`${file}: cannot read (${err.code})\n${USAGE}`);
    }
    try {
      JSON.parse(text);
    } catch (err) {
      fail(`${file}: not JSON (${err.message})\n${USAGE}`);
    }
    return { file, text };
  });
}

// Relative to the working directory when inside it, as typed by make; otherwise absolute.
function shown(file) {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : path.resolve(file);
}

// tsc -> `FILE.json:LINE:COL: error TSnnnn: ...`; the lines that elaborate an error follow it unchanged.
function report(output, sources) {
  const located = /^(.+\.ts)\((\d+),(\d+)\): (error .*)$/;
  const lines = [];
  let errors = 0;
  for (const line of output.split("\n")) {
    const m = located.exec(line);
    if (m && sources.has(path.basename(m[1]))) {
      errors += 1;
      const where = shown(sources.get(path.basename(m[1])));
      lines.push(`${where}:${Number(m[2]) - PRELUDE.length}:${m[3]}: ${m[4]}`);
    } else if (line.trim()) {
      lines.push(line);
    }
  }
  return { errors, lines };
}

function main() {
  const dashboards = dashboardFiles(process.argv.slice(2));
  const pinned = ensureInstalled();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-schema-"));
  try {
    const sources = new Map();
    dashboards.forEach(({ file, text }, i) => {
      const name = `${i}-${path.basename(file, ".json").replace(/[^A-Za-z0-9_-]/g, "_")}.ts`;
      fs.writeFileSync(path.join(work, name), `${PRELUDE.join("\n")}\n${text.trimEnd()};\n`);
      sources.set(name, file);
    });
    fs.writeFileSync(path.join(work, "tsconfig.json"), JSON.stringify({
      extends: path.join(HERE, "tsconfig.json"),
      files: [...sources.keys()],
    }));
    const tsc = spawnSync(process.execPath, [path.join(HERE, "node_modules", "typescript", "bin", "tsc"),
                                             "-p", path.join(work, "tsconfig.json")],
                          { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (tsc.error) fail(`cannot run tsc: ${tsc.error.message}`);
    const { errors, lines } = report(`${tsc.stdout}${tsc.stderr}`, sources);
    const schema = `@grafana/schema ${pinned["@grafana/schema"]} (tsc ${pinned.typescript})`;
    if (lines.length) process.stdout.write(`${lines.join("\n")}\n`);
    if (tsc.status === 0) {
      process.stdout.write(`${dashboards.length} dashboard(s) match the Dashboard type of ${schema}\n`);
      return 0;
    }
    if (errors === 0) fail(`tsc failed (exit ${tsc.status}) without a located error`);
    process.stdout.write(`${errors} error(s) against the Dashboard type of ${schema}\n`);
    return 1;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

try {
  process.exitCode = main();
} catch (err) {
  if (!(err instanceof SetupError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 2;
}
