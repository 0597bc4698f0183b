"""PyTorch's side of the CPU benchmark: one configuration of bench/train_bench.c per run, the same
models, data and procedure, printing the same JSON line (impl "pytorch").

The models use cgrad's initialisation (He normal before relu, Glorot uniform for the output layer,
zero biases), Adam with learning rate 1e-3 and cross-entropy. The images stay a uint8 tensor; each
batch is gathered and converted to float32 in [0, 1] in the training loop, as cgrad's loader does
(there on a background thread). Each step adds its loss and correct predictions to the epoch's
totals, as cg_fit keeps its running loss and accuracy. torch.set_num_threads(--threads) sets the intra-op
threads; inter-op threads stay at PyTorch's default (eager mode does not use them).

Process start is --launch-ns (CLOCK_MONOTONIC nanoseconds when the caller started the process),
else the first line of this script; `import torch` counts as start-up either way.

Usage: python3 bench/train_bench_torch.py --model NAME --mode train|infer|latency|startup
           [--batch N] [--threads T] [--samples N] [--warmup N] [--seconds S]
           [--latency-runs N] [--seed N] [--data DIR] [--launch-ns NS]
"""
import time

SCRIPT_START_NS = time.monotonic_ns()

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
DROPOUT_RATE = 0.2


def make_model(name):
    """The model and, for each Linear/Conv2d, whether a relu follows it (He init) or not."""
    relu = nn.ReLU
    if name == "single":
        layers = [nn.Flatten(), nn.Linear(784, 10)]
    elif name == "mlp":
        layers = [nn.Flatten(), nn.Linear(784, 128), relu(), nn.Linear(128, 10)]
    elif name == "mlp512":
        layers = [nn.Flatten(), nn.Linear(784, 512), relu(), nn.Dropout(DROPOUT_RATE),
                  nn.Linear(512, 256), relu(), nn.Dropout(DROPOUT_RATE), nn.Linear(256, 10)]
    else:
        layers = [nn.Conv2d(1, 32, 3), relu(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), relu(),
                  nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 128), relu(),
                  nn.Linear(128, 10)]
    for index, layer in enumerate(layers):
        if not isinstance(layer, (nn.Linear, nn.Conv2d)):
            continue
        followed_by_relu = index + 1 < len(layers) and isinstance(layers[index + 1], nn.ReLU)
        with torch.no_grad():
            if followed_by_relu:
                nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(layer.weight)
            layer.bias.zero_()
    return nn.Sequential(*layers)


def read_idx(path):
    """An IDX file (raw or gzip) as a numpy uint8 array of its dims, read into one buffer."""
    compressed = not os.path.exists(path) and os.path.exists(path + ".gz")
    with (gzip.open(path + ".gz", "rb") if compressed else open(path, "rb")) as file:
        head = file.read(4)
        dims = [int.from_bytes(file.read(4), "big") for _ in range(head[3])]
        data = bytearray(int(np.prod(dims)))
        view, filled = memoryview(data), 0
        while filled < len(data):
            count = file.readinto(view[filled:])
            if not count:
                raise OSError(f"{path}: truncated")
            filled += count
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def read_split(data_dir, split):
    """Images as a uint8 tensor (N, 1, 28, 28) and labels as int64 (N)."""
    try:
        images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte"))
        labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte"))
    except OSError as error:
        sys.exit(f"train_bench_torch: {error}\ntrain_bench_torch: Fashion-MNIST comes with the "
                 "Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)")
    images = torch.from_numpy(images).unsqueeze(1)
    return images, torch.from_numpy(labels.astype(np.int64))


def to_float(images):
    return images.float().div_(255)


def peak_rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def private_rss_kib():
    """The process's own resident memory now (RssAnon): resident memory less file pages."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def evaluate(model, images, labels, batch):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, images.shape[0], batch):
            outputs = model(to_float(images[start:start + batch]))
            correct += (outputs.argmax(1) == labels[start:start + batch]).sum().item()
    return correct / images.shape[0]


def train(args, model, start_ns, common):
    startup = args.mode == "startup"
    load_start = time.monotonic_ns()
    images, labels = read_split(args.data, "train")
    load_ms = (time.monotonic_ns() - load_start) / 1e6
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    size = images.shape[0]
    limit = 1 if startup else (args.samples or size)
    # At most a quarter of the epoch's steps warm up, as in train_bench.c.
    steps = (min(limit, size) + args.batch - 1) // args.batch
    warmup = 0 if startup else min(args.warmup, steps // 4)
    model.train()
    order = torch.randperm(size)
    done = timed = 0
    loss_sum = correct = 0.0
    timing_start = time.monotonic_ns()
    first_step_end = last_step_end = timing_start
    for step, begin in enumerate(range(0, size, args.batch)):
        index = order[begin:begin + args.batch]
        x, y = to_float(images[index]), labels[index]
        optimizer.zero_grad(set_to_none=True)
        outputs = model(x)
        loss = loss_fn(outputs, y)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * y.shape[0]
        correct += (outputs.argmax(1) == y).sum().item()
        now = time.monotonic_ns()
        if step == 0:
            first_step_end = now
        if step + 1 == warmup:
            timing_start = now
        if step >= warmup:
            timed += y.shape[0]
        done += y.shape[0]
        last_step_end = now
        if done >= limit:
            break
    training_rss_kib = peak_rss_kib()  # before the test evaluation's larger batches
    training_private_kib = private_rss_kib()
    accuracy = None
    if not startup:
        test_images, test_labels = read_split(args.data, "t10k")
        accuracy = round(evaluate(model, test_images, test_labels, 1000), 4)
    seconds = (last_step_end - timing_start) / 1e9
    return dict(common, samples=done, timed_samples=timed, seconds=round(seconds, 4),
                samples_per_s=round(timed / seconds, 1) if timed and seconds > 0 else 0.0,
                loss=round(loss_sum / done, 4), accuracy=accuracy, load_ms=round(load_ms, 2),
                first_step_ms=round((first_step_end - start_ns) / 1e6, 2),
                peak_rss_kib=training_rss_kib, private_rss_kib=training_private_kib)


def infer(args, model, common):
    images, _ = read_split(args.data, "t10k")
    model.eval()
    passes, start, elapsed = -1, 0.0, 0.0
    with torch.inference_mode():
        while passes < 1 or elapsed < args.seconds:
            for begin in range(0, images.shape[0], args.batch):
                model(to_float(images[begin:begin + args.batch]))
            passes += 1
            if passes == 0:
                start = time.perf_counter()
            elapsed = time.perf_counter() - start
    samples = passes * images.shape[0]
    return dict(common, samples=samples, seconds=round(elapsed, 4),
                samples_per_s=round(samples / elapsed, 1), peak_rss_kib=peak_rss_kib())


def latency(args, model, common):
    images, _ = read_split(args.data, "t10k")
    model.eval()
    runs = args.latency_runs
    seconds = []
    with torch.inference_mode():
        for i in range(-runs, runs):
            start = time.perf_counter()
            index = (i + runs) % images.shape[0]
            model(to_float(images[index:index + 1]))
            if i >= 0:
                seconds.append(time.perf_counter() - start)
    return dict(common, samples=runs,
                latency_median_us=round(1e6 * statistics.median(seconds), 2),
                latency_mean_us=round(1e6 * sum(seconds) / runs, 2),
                samples_per_s=round(runs / sum(seconds), 1), peak_rss_kib=peak_rss_kib())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, choices=["single", "mlp", "mlp512", "cnn"])
    parser.add_argument("--mode", default="train",
                        choices=["train", "infer", "latency", "startup"])
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--latency-runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", default=os.environ.get("FASHION_DATA", DEFAULT_DATA_DIR))
    parser.add_argument("--launch-ns", type=int, default=0)
    args = parser.parse_args()
    start_ns = args.launch_ns or SCRIPT_START_NS
    args.batch = args.batch or {"infer": 1000, "latency": 1}.get(args.mode, 32)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = make_model(args.model)
    common = dict(impl="pytorch", mode=args.mode, model=args.model, batch=args.batch,
                  threads=torch.get_num_threads(), version=torch.__version__)
    if args.mode in ("train", "startup"):
        result = train(args, model, start_ns, common)
    elif args.mode == "infer":
        result = infer(args, model, common)
    else:
        result = latency(args, model, common)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
