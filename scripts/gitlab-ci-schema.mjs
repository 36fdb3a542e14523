// Validates a .gitlab-ci.yml against GitLab's CI JSON schema, as shipped inside gitlab-ci-local, then proves
// the validation has teeth: broken copies of the same file (an unknown job keyword, needs of the wrong type,
// a rule's when outside its enum) must each be rejected.
//
//   node scripts/gitlab-ci-schema.mjs NODE_MODULES FILE
//
// NODE_MODULES holds gitlab-ci-local, ajv and js-yaml (scripts/check-gitlab-ci installs them). gitlab-ci-local
// is published as one bundle, so the schema is read out of dist/index.js: the object literal whose $id is
// GitLab's, taken as GitLab wrote it (before the bundle loosens a few patterns for its own use).
// Exit 0: valid and every broken copy rejected; 1: invalid, or a broken copy accepted; 2: cannot check.
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import {createRequire} from "node:module";

const [modules, file] = process.argv.slice(2);
if (!modules || !file) {
    console.error("usage: gitlab-ci-schema.mjs NODE_MODULES FILE");
    process.exit(2);
}
const require = createRequire(path.join(path.resolve(modules), "_.js"));
const fail = (msg, code = 2) => {
    console.error(`gitlab-ci-schema: ${msg}`);
    process.exit(code);
};

// The schema: a schema.json file if the package ever ships one, else the literal inside the bundle.
function loadSchema () {
    const pkg = path.join(path.resolve(modules), "gitlab-ci-local");
    for (const f of ["src/schema.json", "src/schema/schema.json", "dist/schema.json"]) {
        if (fs.existsSync(path.join(pkg, f))) return {schema: JSON.parse(fs.readFileSync(path.join(pkg, f), "utf8")), from: f};
    }
    const bundle = fs.readFileSync(path.join(pkg, "dist/index.js"), "utf8");
    const id = bundle.indexOf('$id:"https://gitlab.com/.gitlab-ci.yml"');
    if (id < 0) fail("GitLab's CI schema ($id https://gitlab.com/.gitlab-ci.yml) not found in gitlab-ci-local's dist/index.js");
    const start = bundle.lastIndexOf("{", id);
    // The end of the literal: the brace that closes the first one, skipping strings (with their escapes).
    let depth = 0, end = -1, quote = null;
    for (let i = start; i < bundle.length && end < 0; i++) {
        const c = bundle[i];
        if (quote) {
            if (c === "\\") i++;
            else if (c === quote) quote = null;
        } else if (c === '"' || c === "'" || c === "`") quote = c;
        else if (c === "{" || c === "[") depth++;
        else if (c === "}" || c === "]") {
            if (--depth === 0) end = i + 1;
        }
    }
    if (end < 0) fail("the schema literal in gitlab-ci-local's dist/index.js does not end");
    // A plain data literal: evaluated in an empty context, with a time limit, and kept only as JSON.
    const schema = JSON.parse(JSON.stringify(vm.runInNewContext(`(${bundle.slice(start, end)})`, {}, {timeout: 2000})));
    if (schema.$id !== "https://gitlab.com/.gitlab-ci.yml" || !schema.definitions?.job_template) {
        fail("what dist/index.js holds at GitLab's $id is not the CI schema");
    }
    return {schema, from: "dist/index.js"};
}

const Ajv = require("ajv").default ?? require("ajv");
const yaml = require("js-yaml");
const {schema, from} = loadSchema();
// The options gitlab-ci-local validates with: GitLab's schema uses union types, formats ajv does not know
// and the markdownDescription keyword.
const ajv = new Ajv({allErrors: true, allowUnionTypes: true, validateFormats: false, strictTypes: false, keywords: ["markdownDescription"]});
const validate = ajv.compile(schema);

let config;
try {
    config = yaml.load(fs.readFileSync(file, "utf8"), {filename: file});
} catch (e) {
    fail(`${file}: not YAML: ${e.message}`, 1);
}

const errorsOf = (doc) => (validate(doc) ? [] : validate.errors.map(e => `${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ""}`));

const errors = errorsOf(config);
if (errors.length > 0) {
    // allErrors lists every branch of a oneOf; the first few name the culprit.
    console.error(`gitlab-ci-schema: ${file} is not valid against GitLab's CI schema (${from} of gitlab-ci-local):`);
    for (const e of [...new Set(errors)].slice(0, 8)) console.error(`  ${e}`);
    process.exit(1);
}

// The broken copies, each made from the file just validated. The job altered is the first one with a script.
const jobName = Object.keys(config).find(k => config[k] && typeof config[k] === "object" && "script" in config[k]);
if (!jobName) fail(`${file}: no job with a script to break`, 1);
const broken = {
    "an unknown job keyword": (c) => { c[jobName].scripts = c[jobName].script; },
    "needs that is not a list": (c) => { c[jobName].needs = true; },
    "a rule whose when is not one GitLab knows": (c) => { c[jobName].rules = [{if: "$CI_COMMIT_TAG", when: "sometimes"}]; },
};
let accepted = 0;
for (const [what, breakIt] of Object.entries(broken)) {
    const copy = structuredClone(config);
    breakIt(copy);
    if (errorsOf(copy).length === 0) {
        console.error(`gitlab-ci-schema: a copy of ${file} with ${what} (job ${jobName}) passed the schema: the check is toothless`);
        accepted++;
    }
}
if (accepted > 0) process.exit(1);
console.log(`${file}: valid against GitLab's CI schema (gitlab-ci-local ${from}); ${Object.keys(broken).length} broken copies rejected`);
