"""`make bench`: cgrad beside PyTorch on Fashion-MNIST, on the CPU.

Runs every configuration (part, model, batch, threads) of bench/train_bench (cgrad) and
bench/train_bench_torch.py (PyTorch) as separate processes, the two alternating (which one goes
first alternates too) for --reps repetitions, each run from a seed of its own, takes medians
(means for the test accuracy, over every run of a configuration), and prints
Markdown tables of both sides, their ratios and the targets of the benchmark; the same tables go to
--output, ready for bench/RESULTS.md, and every JSON line the programs printed to --output with the
suffix .jsonl. Parts:

  train    one epoch (after --warmup untimed steps) at batches 32 and 128: samples/s, test accuracy
           after the epoch, peak RSS of the process
  infer    inference throughput at batch 1000 over the 10,000 test images
  latency  batch-1 latency, one test image at a time
  startup  process start to the first finished training step (784-128-10, batch 32), with the
           data files as packaged (gzip) and decompressed once into BUILD/fashion-mnist-raw
  matmul   bench/matmul_bench (built-in matrix product against the CBLAS), as it prints it

Each configuration runs with 1 and 2 threads on both sides (cg_set_num_threads(T) and
torch.set_num_threads(T)); ratios compare each cgrad thread count with PyTorch's best one.
Without PyTorch or the data files it says what is missing and runs what it can.

Usage: python3 bench/run_bench.py [--build DIR] [--parts train,infer,latency,startup,matmul]
           [--models single,mlp,mlp512,cnn] [--batches 32,128] [--threads 1,2] [--reps N]
           [--samples N] [--cnn-samples N] [--output FILE] [--tables-from FILE.jsonl]
Environment: BENCH_SAMPLES (default of --samples), BENCH_REPS (of --reps).
"""
import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
DATA_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
              "t10k-labels-idx1-ubyte"]
PARTS = ["train", "infer", "latency", "startup", "matmul"]
MODELS = {"single": "784-10", "mlp": "784-128-10", "mlp512": "784-512-256-10, dropout 0.2",
          "cnn": "CNN (conv 32, pool, conv 64, pool, 128, 10)"}
# Targets of training samples/s, cgrad / PyTorch's best, by (model, batch); None: no target.
TRAIN_TARGETS = {("mlp", 32): 3.0, ("mlp", 128): 2.0, ("mlp512", 32): 2.0, ("mlp512", 128): 2.0,
                 ("cnn", 32): 3.0, ("cnn", 128): 3.0}
INFER_TARGET = 1.5      # inference samples/s at batch 1000, cgrad / PyTorch
LATENCY_TARGET = 5.0    # PyTorch's batch-1 latency / cgrad's
RSS_TARGET = 0.25       # cgrad's peak RSS / PyTorch's
STARTUP_TARGET_MS = 50  # cgrad, process start to the first finished training step
ACCURACY_POINTS = 1.0   # |cgrad - PyTorch| test accuracy after the epoch, percentage points
MATMUL_TARGET = 0.70    # built-in / CBLAS GFLOP/s at the MLP shapes
RUN_TIMEOUT_S = 1800


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build", help="the build directory (default build)")
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batches", default="32,128", help="training batch sizes")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", "3")))
    parser.add_argument("--samples", type=int, default=int(os.environ.get("BENCH_SAMPLES", "0")),
                        help="training samples per epoch (default 0: all 60,000)")
    parser.add_argument("--cnn-samples", type=int, default=0,
                        help="training samples per epoch of the CNN (default: as --samples)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="untimed training steps (at most a quarter of an epoch's)")
    parser.add_argument("--data", default=os.environ.get("FASHION_DATA", DEFAULT_DATA_DIR))
    parser.add_argument("--python", default=sys.executable, help="the Python with torch")
    parser.add_argument("--output", help="Markdown file (default BUILD/bench-results.md)")
    parser.add_argument("--tables-from", metavar="JSONL",
                        help="run nothing: the tables of the JSON lines of an earlier run (the "
                        "options must name the same models, batches, threads and samples)")
    args = parser.parse_args()
    args.parts = split_list(args.parts, PARTS, "--parts")
    args.models = split_list(args.models, MODELS, "--models")
    args.batches = [int(b) for b in args.batches.split(",")]
    args.threads = [int(t) for t in args.threads.split(",")]
    args.output = args.output or os.path.join(args.build, "bench-results.md")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def split_list(text, allowed, flag):
    items = [item for item in text.split(",") if item]
    unknown = [item for item in items if item not in allowed]
    if unknown:
        sys.exit(f"run_bench: unknown {flag} value(s) {', '.join(unknown)}; "
                 f"known: {', '.join(allowed)}")
    return items


def has_data(data_dir):
    return all(os.path.exists(os.path.join(data_dir, name)) or
               os.path.exists(os.path.join(data_dir, name + ".gz")) for name in DATA_FILES)


def has_torch(python):
    result = subprocess.run([python, "-c", "import torch"], capture_output=True)
    return result.returncode == 0


def run_one(command):
    """Runs a benchmark process with its launch time; its JSON line, or None with a message."""
    launch_ns = time.monotonic_ns()
    try:
        result = subprocess.run(command + ["--launch-ns", str(launch_ns)], capture_output=True,
                                text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"run_bench: timed out: {' '.join(command)}", file=sys.stderr)
        return None
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        print(f"run_bench: failed ({result.returncode}): {' '.join(command)}\n{result.stderr}",
              file=sys.stderr)
        return None
    return json.loads(lines[-1])


class Runner:
    """Runs configurations on both sides and keeps every result."""

    def __init__(self, args, sides, log):
        self.args = args
        self.sides = sides  # impl name -> command prefix
        self.results = {}   # (impl, label, model, batch, threads) -> [result, ...]
        self.log = log      # a file for the JSON lines, or None

    def add(self, result):
        key = (result["impl"], result["label"], result["model"], result["batch"],
               result["threads"])
        self.results.setdefault(key, []).append(result)

    def configuration(self, mode, model, batch, threads, extra=(), label=None):
        """Runs one configuration, its results kept under label (default: the mode)."""
        common = ["--model", model, "--mode", mode, "--batch", str(batch), "--threads",
                  str(threads), *extra]
        label = label or mode
        for rep in range(self.args.reps):
            order = list(self.sides) if rep % 2 == 0 else list(reversed(self.sides))
            for impl in order:
                command = self.sides[impl] + common + ["--seed", str(self.seed(threads, rep))]
                result = run_one(command)
                if result is None:
                    continue
                result["label"] = label
                self.log.write(json.dumps(result) + "\n")
                self.log.flush()
                self.add(result)
        field = {"latency": "latency_median_us", "train": "samples_per_s",
                 "infer": "samples_per_s"}.get(mode, "first_step_ms")
        print(f"  {label} {model} batch {batch}, {threads} thread(s), median {field}: " +
              "; ".join(f"{impl} {self.median(impl, label, model, batch, threads, field)}"
                        for impl in self.sides), flush=True)

    def seed(self, threads, rep):
        """The seed of a repetition: 1, 2, ... over the repetitions and on across the thread
        counts, so that every training run of a configuration starts from a seed of its own and
        the accuracy comparison averages over as many independent runs as there are."""
        return 1 + rep + self.args.reps * self.args.threads.index(threads)

    def median(self, impl, mode, model, batch, threads, field):
        values = [r[field] for r in self.results.get((impl, mode, model, batch, threads), [])
                  if r.get(field) is not None]
        return statistics.median(values) if values else None

    def best(self, impl, mode, model, batch, field, largest=True):
        """The best over the thread counts of the medians, and its thread count."""
        candidates = [(self.median(impl, mode, model, batch, t, field), t)
                      for t in self.args.threads]
        candidates = [c for c in candidates if c[0] is not None]
        if not candidates:
            return None, None
        return (max if largest else min)(candidates)


def fmt(value, digits=0):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def verdict(value, target, larger=True):
    if value is None:
        return "n/a"
    met = value >= target if larger else value <= target
    return "met" if met else "**missed**"


def train_tables(runner, models, batches, threads):
    """The training table, the accuracy comparison and the memory table."""
    t_cols = " | ".join(f"cgrad {t}T" for t in threads)
    p_cols = " | ".join(f"PyTorch {t}T" for t in threads)
    r_cols = " | ".join(f"cgrad {t}T / PT best" for t in threads)
    lines = [f"| model | batch | {t_cols} | {p_cols} | {r_cols} | target | "
             f"cgrad {threads[-1]}T / {threads[0]}T |",
             "|---|---:|" + "---:|" * (3 * len(threads) + 2)]
    accuracy = ["| model | batch | runs (cgrad/PT) | cgrad accuracy | PyTorch accuracy | "
                "difference (points) | its standard error (points) | "
                f"within {ACCURACY_POINTS:g} point | cgrad training loss | PyTorch training loss |",
                "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    memory = ["| model | batch | cgrad peak RSS MiB | of which tensors MiB | PyTorch peak RSS MiB | "
              f"cgrad / PyTorch | target <= {RSS_TARGET:g} | cgrad private MiB | "
              "PyTorch private MiB | private: cgrad / PyTorch |",
              "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for model in models:
        for batch in batches:
            ours = [runner.median("cgrad", "train", model, batch, t, "samples_per_s")
                    for t in threads]
            theirs = [runner.median("pytorch", "train", model, batch, t, "samples_per_s")
                      for t in threads]
            best_theirs, _ = runner.best("pytorch", "train", model, batch, "samples_per_s")
            ratios = [ratio(o, best_theirs) for o in ours]
            best_ratio = max([r for r in ratios if r is not None], default=None)
            target = TRAIN_TARGETS.get((model, batch))
            target_text = "" if target is None else \
                f">= {target:g}x: {verdict(best_ratio, target)}"
            scaling = ratio(ours[-1], ours[0]) if len(threads) > 1 else None
            scaling_text = fmt(scaling, 2)
            if scaling is not None and batch >= 128:
                scaling_text += " (" + verdict(scaling, 1.0 + 1e-9) + ")"
            lines.append(f"| {MODELS[model]} | {batch} | " +
                         " | ".join(fmt(v) for v in ours + theirs) + " | " +
                         " | ".join(fmt(r, 2) + ("x" if r is not None else "") for r in ratios) +
                         f" | {target_text} | {scaling_text} |")
            acc, loss = ([all_runs_mean(runner, impl, model, batch, threads, field)
                          for impl in ("cgrad", "pytorch")] for field in ("accuracy", "loss"))
            difference = None if None in acc else 100 * (acc[0][0] - acc[1][0])
            error = None if None in acc else 100 * (acc[0][1] ** 2 + acc[1][1] ** 2) ** 0.5
            within = verdict(None if difference is None else abs(difference), ACCURACY_POINTS,
                             False)
            runs = "/".join(str(a[2]) if a else "0" for a in acc)
            accuracy.append(f"| {MODELS[model]} | {batch} | {runs} | "
                            f"{fmt(acc[0] and acc[0][0], 4)} | {fmt(acc[1] and acc[1][0], 4)} "
                            f"| {fmt(difference, 2)} | {fmt(error, 2)} | {within} | "
                            f"{fmt(loss[0] and loss[0][0], 4)} | {fmt(loss[1] and loss[1][0], 4)} |")
            rss = [max([v for v in (runner.median(impl, "train", model, batch, t, "peak_rss_kib")
                                    for t in threads) if v is not None], default=None)
                   for impl in ("cgrad", "pytorch")]
            tensors = max([v for v in (runner.median("cgrad", "train", model, batch, t,
                                                     "tensor_peak_kib") for t in threads)
                           if v is not None], default=None)
            private = [max([v for v in (runner.median(impl, "train", model, batch, t,
                                                      "private_rss_kib") for t in threads)
                            if v is not None], default=None)
                       for impl in ("cgrad", "pytorch")]
            rss_ratio = ratio(rss[0], rss[1])
            memory.append(f"| {MODELS[model]} | {batch} | {fmt(mib(rss[0]), 1)} | "
                          f"{fmt(mib(tensors), 1)} | {fmt(mib(rss[1]), 1)} | "
                          f"{fmt(rss_ratio, 3)} | "
                          f"{verdict(rss_ratio, RSS_TARGET, False)} | "
                          f"{fmt(mib(private[0]), 1)} | {fmt(mib(private[1]), 1)} | "
                          f"{fmt(ratio(private[0], private[1]), 3)} |")
    return lines, accuracy, memory


def all_runs_mean(runner, impl, model, batch, threads, field):
    """The mean of a training field over every run of a model and batch, all thread counts (each
    run from a seed of its own), the standard error of that mean and the number of runs; None
    without runs. One epoch's test accuracy varies by about a point from seed to seed, so a
    comparison of single runs would measure the seeds rather than the frameworks."""
    values = [r[field] for t in threads
              for r in runner.results.get((impl, "train", model, batch, t), [])]
    if not values:
        return None
    error = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return statistics.mean(values), error, len(values)


def mib(kib):
    return None if kib is None else kib / 1024


def inference_tables(runner, models, threads):
    t_cols = " | ".join(f"cgrad {t}T" for t in threads)
    p_cols = " | ".join(f"PyTorch {t}T" for t in threads)
    infer = [f"| model | {t_cols} | {p_cols} | cgrad best / PT best | target >= {INFER_TARGET:g}x |",
             "|---|" + "---:|" * (2 * len(threads) + 1) + "---|"]
    latency = [f"| model | {t_cols} | {p_cols} | PT best / cgrad best | "
               f"target >= {LATENCY_TARGET:g}x |",
               "|---|" + "---:|" * (2 * len(threads) + 1) + "---|"]
    for model in models:
        if any(runner.results.get(("cgrad", "infer", model, 1000, t)) for t in threads):
            values = [runner.median(impl, "infer", model, 1000, t, "samples_per_s")
                      for impl in ("cgrad", "pytorch") for t in threads]
            r = ratio(runner.best("cgrad", "infer", model, 1000, "samples_per_s")[0],
                      runner.best("pytorch", "infer", model, 1000, "samples_per_s")[0])
            infer.append(f"| {MODELS[model]} | " + " | ".join(fmt(v) for v in values) +
                         f" | {fmt(r, 2)}x | {verdict(r, INFER_TARGET)} |")
        if any(runner.results.get(("cgrad", "latency", model, 1, t)) for t in threads):
            values = [runner.median(impl, "latency", model, 1, t, "latency_median_us")
                      for impl in ("cgrad", "pytorch") for t in threads]
            r = ratio(runner.best("pytorch", "latency", model, 1, "latency_median_us", False)[0],
                      runner.best("cgrad", "latency", model, 1, "latency_median_us", False)[0])
            latency.append(f"| {MODELS[model]} | " + " | ".join(fmt(v, 1) for v in values) +
                           f" | {fmt(r, 2)}x | {verdict(r, LATENCY_TARGET)} |")
    return infer, latency


def startup_table(runner, threads):
    lines = ["| side | threads | data files | process start to first step end, ms | "
             f"of which reading the data, ms | peak RSS MiB | target <= {STARTUP_TARGET_MS} ms |",
             "|---|---:|---|---:|---:|---:|---|"]
    for impl in ("cgrad", "pytorch"):
        for label, files in (("startup", "gzip (as packaged)"), ("startup-raw", "raw")):
            for t in threads:
                if not runner.results.get((impl, label, "mlp", 32, t)):
                    continue
                first = runner.median(impl, label, "mlp", 32, t, "first_step_ms")
                load = runner.median(impl, label, "mlp", 32, t, "load_ms")
                rss = runner.median(impl, label, "mlp", 32, t, "peak_rss_kib")
                target = verdict(first, STARTUP_TARGET_MS, False) if impl == "cgrad" else ""
                lines.append(f"| {impl} | {t} | {files} | {fmt(first, 1)} | {fmt(load, 1)} | "
                             f"{fmt(mib(rss), 1)} | {target} |")
    return lines


def raw_data_dir(data_dir, build):
    """The data files decompressed once into BUILD/fashion-mnist-raw (start-up without gzip)."""
    raw_dir = os.path.join(build, "fashion-mnist-raw")
    os.makedirs(raw_dir, exist_ok=True)
    for name in DATA_FILES:
        target = os.path.join(raw_dir, name)
        if os.path.exists(target):
            continue
        source = os.path.join(data_dir, name)
        opener = open if os.path.exists(source) else gzip.open
        with opener(source if opener is open else source + ".gz", "rb") as file, \
                open(target + ".part", "wb") as out:
            shutil.copyfileobj(file, out)
        os.replace(target + ".part", target)
    return raw_dir


def matmul_section(build):
    """matmul_bench's table and the built-in / CBLAS geometric means at the MLP shapes."""
    program = os.path.join(build, "matmul_bench")
    result = subprocess.run([program], capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if result.returncode != 0:
        return [f"matmul_bench failed: {result.stderr.strip()}"]
    lines = result.stdout.rstrip("\n").splitlines()
    header = next((line for line in lines if line.startswith("| product")), None)
    if header is None:
        return lines
    columns = [c.strip() for c in header.strip("|").split("|")]
    summary = []
    for name in ("1T ratio", "2T ratio"):
        if name not in columns:
            continue
        index = columns.index(name)
        ratios = []
        for line in lines:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) == len(columns) and cells[0].startswith("B") and cells[index]:
                ratios.append(float(cells[index].rstrip("%")) / 100)
        if ratios:
            mean = statistics.geometric_mean(ratios)
            below = sum(r < MATMUL_TARGET for r in ratios)
            summary.append(f"- built-in / CBLAS at the MLP shapes, {name[:2]}: geometric mean "
                           f"{mean:.0%}, lowest {min(ratios):.0%}; {below} of {len(ratios)} "
                           f"products below the target of {MATMUL_TARGET:.0%} "
                           f"({verdict(min(ratios), MATMUL_TARGET)})")
    return lines + [""] + summary


def machine():
    """The CPU model and the number of online CPUs."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as file:
            model = next((line.split(":", 1)[1].strip() for line in file
                          if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs"


def load_text(load):
    return ", ".join(f"{value:.2f}" for value in load)


def run_all(args, runner, parts):
    """Runs every configuration of parts but matmul."""
    for part in parts:
        if part == "matmul":
            continue
        print(f"== {part}", flush=True)
        for model in args.models if part != "startup" else ["mlp"]:
            for threads in args.threads:
                if part == "train":
                    samples = args.cnn_samples if model == "cnn" and args.cnn_samples else \
                        args.samples
                    for batch in args.batches:
                        runner.configuration("train", model, batch, threads,
                                             ["--samples", str(samples)])
                elif part == "infer":
                    runner.configuration("infer", model, 1000, threads)
                elif part == "latency":
                    runner.configuration("latency", model, 1, threads)
                else:
                    runner.configuration("startup", model, 32, threads)
                    runner.configuration("startup", model, 32, threads,
                                         ["--data", raw_data_dir(args.data, args.build)],
                                         "startup-raw")


def read_results(args, runner):
    """The results of an earlier run from its JSON lines (--tables-from); the parts they cover."""
    with open(args.tables_from) as file:
        for line in file:
            result = json.loads(line)
            result.setdefault("label", result["mode"])
            runner.add(result)
    labels = {key[1] for key in runner.results}
    return [part for part in PARTS if part in labels]


def tables(args, runner, parts, header):
    """The Markdown text of the results."""
    versions = sorted({r["version"] for results in runner.results.values() for r in results
                       if r.get("version")})
    pytorch = f"; PyTorch {', '.join(versions)}" if versions else ""
    out = [f"- Machine: {machine()}{pytorch}."] + header + [""]
    out += [f"Training epochs of {args.samples or 60000:,} samples"
            + (f" ({args.cnn_samples:,} for the CNN)" if args.cnn_samples else "")
            + f" after {args.warmup} untimed steps; medians over the repetitions. Threads: cgrad "
            "{T}T = cg_set_num_threads(T) (its threads also run the OpenBLAS products), "
            "PyTorch {T}T = torch.set_num_threads(T); \"PT best\" is PyTorch's faster thread "
            "count.", ""]
    if "train" in parts:
        train, accuracy, memory = train_tables(runner, args.models, args.batches, args.threads)
        out += ["### Training, samples/s", ""] + train + [""]
        out += ["### Test accuracy after the epoch, and the epoch's mean training loss (means "
                "over every run, each from a seed of its own)", ""] + accuracy + [""]
        out += ["### Peak RSS of the training process (up to the end of training; the larger of "
                "the thread counts' medians; tensors: cgrad's allocator peak of live bytes; "
                "private: the process's own resident memory (RssAnon) at the end of training, "
                "without the pages of files, such as a mapped data set or the shared libraries)",
                ""] \
            + memory + [""]
    if "infer" in parts or "latency" in parts:
        infer, latency = inference_tables(runner, args.models, args.threads)
        if "infer" in parts:
            out += ["### Inference at batch 1000, samples/s", ""] + infer + [""]
        if "latency" in parts:
            out += ["### Latency at batch 1, median microseconds per image", ""] + latency + [""]
    if "startup" in parts:
        out += ["### Start-up (784-128-10, batch 32)", ""] + \
            startup_table(runner, args.threads) + [""]
    if "matmul" in parts:
        print("== matmul", flush=True)
        out += ["### Matrix products, GFLOP/s (matmul_bench)", ""] + matmul_section(args.build) + \
            [""]
    return "\n".join(out)


def main():
    args = parse_arguments()
    if args.tables_from:
        runner = Runner(args, {}, None)
        text = tables(args, runner, read_results(args, runner),
                      [f"- Results read from {args.tables_from}."])
        with open(args.output, "w") as file:
            file.write(text)
        print(text)
        return
    program = os.path.join(args.build, "train_bench")
    if not os.access(program, os.X_OK):
        sys.exit(f"run_bench: {program} is not built (make, or cmake --build {args.build})")
    sides = {"cgrad": [program, "--data", args.data, "--warmup", str(args.warmup)]}
    notes = []
    if not has_torch(args.python):
        notes.append(f"PyTorch is missing ({args.python} cannot import torch; "
                     "apt-get install python3-torch): cgrad's figures only.")
    else:
        sides["pytorch"] = [args.python, os.path.join(HERE, "train_bench_torch.py"), "--data",
                            args.data, "--warmup", str(args.warmup)]
    parts = args.parts
    if not has_data(args.data):
        notes.append(f"Fashion-MNIST is missing from {args.data} (apt-get install "
                     "dataset-fashion-mnist, or FASHION_DATA=DIR): only the matrix products.")
        parts = [p for p in parts if p == "matmul"]
    for note in notes:
        print(f"run_bench: {note}", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()
    with open(args.output + ".jsonl", "w") as log:
        runner = Runner(args, sides, log)
        run_all(args, runner, parts)
    header = [f"- Run of {started}, {args.reps} repetition(s), until "
              f"{time.strftime('%H:%M UTC', time.gmtime())}.",
              f"- Load average (1, 5, 15 min): {load_text(load_before)} at the start, "
              f"{load_text(os.getloadavg())} at the end."] + [f"- Note: {n}" for n in notes]
    text = tables(args, runner, parts, header)
    with open(args.output, "w") as file:
        file.write(text)
    print()
    print(text)
    print(f"run_bench: tables in {args.output}, raw lines in {args.output}.jsonl")


if __name__ == "__main__":
    main()
