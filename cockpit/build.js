#!/usr/bin/env node
/* Builds the Cockpit package into one directory:
 *
 *     node build.js [OUTDIR]        (default: dist)
 *
 * OUTDIR gets manifest.json, index.html, index.js, index.css and the fonts
 * PatternFly's CSS refers to. The dependencies come from node_modules,
 * which `npm ci` fills from package-lock.json; nothing is fetched at run
 * time. */

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(process.argv[2] || path.join(here, "dist"));
const production = process.env.NODE_ENV !== "development";

fs.rmSync(outdir, { recursive: true, force: true });
fs.mkdirSync(outdir, { recursive: true });

await esbuild.build({
    entryPoints: { index: path.join(here, "src", "index.jsx") },
    outdir,
    bundle: true,
    minify: production,
    sourcemap: false,
    target: ["es2020"],
    jsx: "automatic",
    loader: { ".js": "jsx", ".woff": "file", ".woff2": "file", ".ttf": "file", ".svg": "file", ".png": "file", ".jpg": "file" },
    assetNames: "fonts/[name]",
    define: { "process.env.NODE_ENV": JSON.stringify(production ? "production" : "development") },
    legalComments: "external",
    logLevel: "warning",
});

for (const f of ["manifest.json", "index.html"])
    fs.copyFileSync(path.join(here, f), path.join(outdir, f));
