import { Command, CommanderError } from "commander";
import { isWfnError } from "@wasm-fn/abi";

/**
 * Builds the `wasm-fn` commander program. Each command lives in ./commands/<name>.ts and is
 * imported only when it runs, so `wasm-fn run` does not pay for the compiler or the registry client.
 * One wrapper (`action`) owns error printing and exit codes.
 */
export function buildProgram(): Command {
  const program = new Command("wasm-fn")
    .description("WebAssembly functions: build to KB-sized OCI images, serve with microsecond cold starts, reach any backend through Dapr")
    .version("0.1.0")
    .option("--json", "machine-readable output (one JSON document on stdout)")
    .showHelpAfterError();

  program.command("init <dir>")
    .description("scaffold a function project (function, wasm-fn.yaml, package.json, a test, a README) that builds, runs and passes its test as generated")
    .option("--template <name>", "http (default), state (key/value on a state store), pubsub (async, consumes a topic), binding (input binding to output binding) or c (the C hello)")
    .option("--lang <lang>", "as (AssemblyScript, the default), c, ts (TypeScript) or js (JavaScript): the http template has all four")
    .option("--trigger <trigger>", "http (default) or event: the http and c templates' trigger")
    .option("--name <name>", "function name (default: the directory name)")
    .action(action("init"));

  program.command("build [dir]")
    .description("compile the function in dir (default .) to dist/<name>.wasm and an OCI image in dist/oci")
    .option("--format <format>", "image (runnable WasmEdge image) or artifact (CNCF Wasm OCI artifact)", "image")
    .option("--tar", "also write an oci-archive tar (dist/<name>.oci.tar)")
    .option("--no-optimize", "skip Binaryen optimisation (faster, bigger)")
    .option("--no-image", "only write the module and its metadata")
    .option("--no-wasmedge", "skip the WasmEdge form (dist/<name>.wasmedge.wasm, the image's entrypoint): the image then runs only in wasm-fn run")
    .action(action("build"));

  const run = program.command("run [targets...]")
    .description("serve functions: directories, .wasm files or OCI references (default .)")
    .option("-p, --port <port>", "port to listen on", "8080")
    .option("--host <addr>", "address to listen on", "127.0.0.1")
    .option("--domain <domain>", "domain for host-based routes {name}.{namespace}.{domain}", "local")
    .option("--no-access-log", "do not log a JSON line per request")
    .option("--insecure", "allow plain-HTTP registries when pulling references")
    .option("--watch", "hot-swap a function when its built module (dist/<name>.wasm) changes: new requests get the new build, in-flight ones finish on the old")
    .option("--runaways <where>", "where a function moved off the main thread as a suspected runaway runs: processes (child processes in Linux's SCHED_IDLE class, raised to nice 10 while starved and the shim's own work leaves a core free) or threads (worker threads at nice 10: no spare process, but hello's p99 beside four abusive functions 4.4-5.5x quiet instead of ~1x); see docs/runtime.md", "processes")
    .option("--offload <policy>", "where instances run: adaptive (main thread; a runaway, past its deadline, moves to worker threads, and so does heavy work while other functions are served), never, or always (worker threads; a function's isolation: worker asks for this alone)", "adaptive")
    .option("--dapr", "reach every capability through a Dapr sidecar: the one DAPR_HTTP_PORT and DAPR_GRPC_PORT name, else a daprd started (and stopped) for this shim")
    .option("--state-file <file>", "embedded backend (without --dapr): where state persists (events not yet handled wait beside it, in <name>.events.jsonl)", ".wasm-fn/state.json")
    .option("--resources-path <dir>", "Dapr component YAML: passed to the daprd --dapr starts; the embedded backend reads names, bindings.http and local secret stores from it")
    .option("--app-id <id>", "Dapr app id of the sidecar --dapr starts (default: the function's appId, or wasm-fn for several)")
    .option("--dapr-timeout <duration>", "a capability call fails after this long when daprd does not answer", "5s")
    .option("--dapr-config <file>", "Dapr Configuration passed to the daprd --dapr starts (e.g. name resolution)")
    .action(action("run"));

  // dev takes run's serving options as they are (same names, defaults and help).
  const dev = program.command("dev [dir]")
    .description("build the function in dir (default .), serve it, and on every change to its sources rebuild and hot-swap it (no request dropped); while a build fails, its requests get 500 with the compiler's message")
    .option("-p, --port <port>", "port to listen on", "8080")
    .option("--optimize", "Binaryen optimisation as in build (rebuilds take about a second instead of a few hundred ms)");
  for (const o of run.options) if (DEV_FROM_RUN.has(o.long ?? "")) dev.addOption(o);
  dev.action(action("dev"));

  program.command("push <ref> [dir]")
    .description("push the image built for the function in dir (default .) to an OCI registry")
    .option("--insecure", "allow a plain-HTTP registry")
    .action(action("push"));

  program.command("pull <ref>")
    .description("pull an image (or import an oci-archive .tar) into the local content-addressed cache, verifying every digest")
    .option("--insecure", "allow a plain-HTTP registry")
    .action(action("pull"));

  program.command("login <registry>")
    .description("store registry credentials in docker config format (~/.docker/config.json)")
    .option("-u, --username <user>", "user name")
    .option("--password-stdin", "read the password or token from standard input")
    .option("--insecure", "allow a plain-HTTP registry")
    .action(action("login"));

  program.command("inspect <ref>")
    .description("show an image's manifest, config and annotations (a registry reference, an OCI layout directory or an oci-archive tar)")
    .option("--insecure", "allow a plain-HTTP registry")
    .action(action("inspect"));

  const cluster = (c: Command) => c
    .option("-n, --namespace <ns>", "Kubernetes namespace (deploy: default the function's namespace)")
    .option("--context <name>", "kubeconfig context (default: the current one)")
    .option("--kubeconfig <file>", "kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
    .option("--request-timeout <duration>", "how long one request to the API server may take before it is tried again (three times) or given up", "30s");

  cluster(program.command("deploy [target]")
    .description("put a function on Kubernetes: a function directory (built, pushed to --image, deployed by digest) or an image reference built by wasm-fn"))
    .option("--target <target>", "kubernetes (a Deployment for WasmEdge nodes, Service, HPA or KEDA ScaledObject) or openfunction (a core.openfunction.io/v1beta2 Function)", "kubernetes")
    .option("--image <ref>", "from a function directory: the repository[:tag] to push the image to")
    .option("--dry-run", "print the objects and touch nothing (no push, no cluster)")
    .option("-o, --output <format>", "with --dry-run or --emit: yaml or json", undefined)
    .option("--runtime-class <name>", "RuntimeClass whose handler is crun built with WasmEdge", "wasmedge")
    .option("--resources-path <dir>", "Dapr Component YAML to create beside the function (scoped to its app id)")
    .option("--dapr-config <name>", "Dapr Configuration for the sidecar (dapr.io/config)")
    .option("--gateway <[namespace/]name>", "also make a Gateway API HTTPRoute on this Gateway (OpenFunction's host and path templates)")
    .option("--domain <domain>", "domain of the host route {name}.{namespace}.{domain}", "local")
    .option("--no-wait", "do not wait for the rollout")
    .option("--timeout <duration>", "how long to wait for the rollout", "120s")
    .option("--emit <what>", "print a cluster object instead of deploying: runtimeclass")
    .option("--insecure", "allow a plain-HTTP registry")
    .action(action("deploy"));

  cluster(program.command("status <name>")
    .description("a deployed function's ready replicas, pods, recent events and last container error, in words"))
    .action(action("status"));

  cluster(program.command("delete <name>")
    .description("delete what wasm-fn deploy made for a function"))
    .action(action("delete"));

  return program;
}

/** `run`'s options that mean the same in `dev` (not --watch: dev watches the sources; not --insecure: no pulls). */
const DEV_FROM_RUN = new Set(["--host", "--domain", "--no-access-log", "--runaways", "--offload", "--dapr", "--state-file", "--resources-path", "--app-id", "--dapr-timeout", "--dapr-config"]);

type Handler = (args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>) => Promise<number | void>;

function action(name: string) {
  return async (...raw: unknown[]): Promise<void> => {
    const cmd = raw[raw.length - 1] as Command;
    const opts = raw[raw.length - 2] as Record<string, unknown>;
    const args = raw.slice(0, -2);
    const mod = (await import(`./commands/${name}.js`)) as { run: Handler };
    const code = await mod.run(args, opts, cmd.optsWithGlobals());
    if (typeof code === "number" && code !== 0) process.exitCode = code;
  };
}

/** Runs the CLI; returns the exit code. Errors with a WFN_ code print as `error WFN_X: sentence`. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  const json = argv.includes("--json");
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (isWfnError(err)) {
      if (json) process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message } }) + "\n");
      else process.stderr.write(`error ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
