// Package config reads and validates `.gitops.yaml`, the file at a repository's root that tells the
// agent which Terraform stacks the repository holds, which Go Lambda functions it releases, which stages
// changes are promoted through, which policies apply, and how failed releases are rolled back.
//
// # The file
//
//	version: 1
//	stages:                                # promotion order after merge
//	  - name: dev
//	  - name: staging
//	  - name: prod
//	    role_arn: arn:aws:iam::123456789012:role/gitops-deploy
//	policies: [policies/]
//	stacks:
//	  - name: platform
//	    dir: stacks/platform
//	    var_files: ["stages/{stage}.tfvars"]
//	    backend_config: ["stages/{stage}.backend.hcl"]
//	    workspace: default
//	    when_modified: ["**/*.tf", "**/*.tfvars", "../../modules/network/**"]
//	    stages: [dev, staging, prod]
//	  - name: api
//	    dir: stacks/api
//	    depends_on: [platform]
//	functions:
//	  - name: documents
//	    package: ./lambda
//	    function_name: documents-api-{stage}
//	    alias: live
//	    architecture: arm64
//	    after: [api]
//	    strategy: Canary10Percent5Minutes
//	    alarms: ["documents-api-{stage}-*"]
//	    smoke: lambda/testdata/smoke.json
//	    stages: [dev, staging, prod]
//	rollback:
//	  auto_merge: false
//	  watch: 15m
//
// Top-level keys:
//
//   - version (required): 1.
//   - stages (required, at least one): the stages in promotion order. Each has a name and, optionally,
//     role_arn: the IAM role (arn:aws…:iam::ACCOUNT:role/NAME) the agent assumes for that stage's
//     promotions (apply, release); without it the agent's own credentials are used. plan_role_arn: the
//     read-only role merge request plans and drift checks assume; without it they run with no AWS
//     credentials (never with role_arn). Both are read from the project's default branch for merge
//     request plans: a merge request cannot choose its own credentials.
//   - policies (optional): directories of Rego policies, relative to the repository root. When left
//     out, policies/ is used if it exists. Policies configured on the agent's side apply in addition and
//     cannot be switched off here.
//   - stacks (optional): the Terraform root modules, each planned and applied on its own.
//   - functions (optional): the Go Lambda functions the agent builds and releases after merge, stage
//     by stage. function_name is read from the project's default branch for merge request plans.
//   - rollback (optional): what happens when a release fails or its alarms fire. Read from the
//     project's default branch for merge request plans.
//
// Keys of a stack:
//
//   - name (required): unique among stacks.
//   - dir (required): the root module's directory, relative to the repository root. It must exist and
//     stay inside the repository, also after following symbolic links.
//   - var_files (optional): -var-file arguments, relative to dir. {stage} is replaced by the stage
//     name. A missing file fails that stack's plan in that stage, with Terraform's message.
//   - backend_config (optional): -backend-config arguments for init: files relative to dir, or
//     key=value pairs. {stage} is replaced by the stage name. Error messages show only the key of a
//     pair; credentials belong in the agent's environment, not in the repository.
//   - workspace (optional, default "default"): the Terraform workspace, selected or created before the
//     plan. {stage} is replaced by the stage name; letters, digits, '-', '_' and '.' otherwise.
//   - when_modified (optional, default ["**/*.tf", "**/*.tfvars"]): globs, relative to dir, of the
//     files whose change affects the stack. Globs use doublestar syntax: * within one path segment,
//     ** across segments, ?, [abc], {a,b}. A glob may start with ../ segments to reach files outside
//     dir, such as a shared module: "../../modules/network/**" from stacks/api matches
//     modules/network/main.tf. ".." is allowed only at the start, and a glob may not climb above the
//     repository root. An empty list means no change affects the stack by itself (it is still planned
//     when a stack it depends on is).
//   - stages (optional, default all): the stages the stack runs in. Whatever order it is listed in,
//     the stack follows the promotion order of the top-level stages.
//   - depends_on (optional): stacks applied before this one within each stage. A stack is affected
//     when any stack it depends on is, transitively. Cycles are errors.
//
// Keys of a function:
//
//   - name (required): unique among functions, and not the name of a stack.
//   - package (required): the Go main package's directory, relative to the repository root ("./lambda"
//     is "lambda"). It must exist and stay inside the repository, also after following symbolic links.
//   - function_name (required): the Lambda function's name, 1 to 64 letters, digits, '-' and '_' in
//     every stage the function runs in once {stage} is replaced by the stage name.
//   - alias (optional, default "live"): the alias a release moves: 1 to 128 letters, digits, '-' and
//     '_', not only digits (Lambda's rule).
//   - architecture (optional, default arm64): arm64 or x86_64, what the function is built for.
//   - after (optional): stacks applied before the release within each stage. In a stage where a
//     listed stack does not run, there is nothing to wait for.
//   - strategy (optional, default AllAtOnce): how traffic moves to the new version, named as
//     CodeDeploy does. AllAtOnce: at once. Canary<N>Percent<M>Minutes: N% for M minutes, then all.
//     Linear<N>PercentEvery<M>Minutes (or Minute): N% more every M minutes, then all. N is 1 to 99, M
//     1 to 1440, without leading zeros: Canary10Percent5Minutes, Linear10PercentEvery1Minute.
//   - steps (optional, instead of strategy): the traffic steps written out, as in
//     [{weight: 10, bake: 5m}, {weight: 50, bake: 10m}]: weights in percent, 1 to 99, strictly
//     increasing; bake a Go duration, more than 0 and at most 24h. The last step, 100%, is implied.
//     Setting both strategy and steps is an error.
//   - alarms (optional): CloudWatch alarm names watched during the release and the rollback watch
//     window; any of them in ALARM rolls the release back. {stage} is replaced by the stage name; a
//     trailing * matches every alarm with that prefix (and is the only * allowed, after a non-empty
//     prefix). At most 255 characters.
//   - smoke (optional): a JSON event file, relative to the repository root, invoked on the new version
//     before it gets any traffic. It must be a regular file inside the repository.
//   - stages (optional, default all): the stages it is released in, in promotion order.
//
// Function.Plan returns the traffic steps of either form, so no caller parses strategy names.
//
// Keys of rollback:
//
//   - auto_merge (optional, default false): merge the revert merge request automatically.
//   - watch (optional, default 15m): a Go duration, 0 or more; after a release completes, its alarms
//     still roll it back for this long.
//
// Names of stages and stacks are lowercase letters, digits, '-' and '_', starting with a letter or
// digit, at most 63 characters; so are names of functions. {stage} is the only placeholder, and only
// var_files, backend_config, workspace, function_name and alarms expand it.
//
// # Strictness
//
// The file is at most 1 MiB, defines at most 50 stages, 5,000 stacks and 1,000 functions, and holds
// exactly one YAML document. Unknown keys (with a suggestion for a near miss), keys set twice, values
// of the wrong type, unknown stages or stacks named in stages, depends_on or after, cycles
// ("a → b → a"), names used twice, invalid role ARNs, globs, strategies, steps and alarm names, and
// paths that leave the repository are all errors. They are reported together (up to 50), each with
// its line and column, as in
//
//	.gitops.yaml:18:18: stack "api": depends_on names unknown stack "platfrom" (did you mean "platform"?)
//
// YAML aliases (*name) are rejected: a config is read exactly as it is written, and an alias bomb
// cannot grow.
//
// # Which stacks a merge request affects
//
// Affected takes the repo-relative paths the merge request changes (both paths of a rename) and returns
// the stacks one of whose when_modified globs matches a path, plus every stack that depends on one of
// those, in dependency order: a stack after all it depends on, otherwise in file order.
package config
