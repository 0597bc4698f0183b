"""PyTorch's side of the GPU benchmark: the models of bench/gpu_bench.c trained the same way
(Adam, cross-entropy, synthetic data resident on the GPU, a shuffled epoch per pass, the loss
summed on the GPU and read once per epoch as cg_fit does), in eager mode. One warm-up epoch, then whole epochs for at
least --seconds; peak memory is torch.cuda.max_memory_allocated over the whole run, data included.

With --compare FILE (the CSV that gpu_bench printed) it prints a Markdown table of both and the
ratios cgrad / PyTorch; otherwise CSV in gpu_bench's format.

Usage: python3 bench/gpu_bench_torch.py [--compare cgrad.csv] [--seconds S] [--tf32]
"""
import argparse
import csv
import time

import torch
from torch import nn

# name: (batch size, batches per epoch, sample shape), as in gpu_bench.c
MODELS = {
    "mlp_784_128_10": (128, 60, (784,)),
    "mlp_784_512_256_10": (128, 60, (784,)),
    "lab_cnn": (128, 30, (1, 28, 28)),
    "mlp_4096x3_b1024": (1024, 8, (4096,)),
}


def make_model(name):
    if name == "mlp_784_128_10":
        return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    if name == "mlp_784_512_256_10":
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                             nn.Linear(256, 10))
    if name == "lab_cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                         nn.Linear(4096, 10))


def epoch(model, optimizer, loss_fn, x, y, batch):
    order = torch.randperm(x.shape[0], device=x.device)
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], batch):
        index = order[start:start + batch]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x.index_select(0, index)), y.index_select(0, index))
        loss.backward()
        optimizer.step()
        total += loss.detach().double() * index.shape[0]
    return total.item() / x.shape[0]


def run(name, seconds, device):
    batch, batches, shape = MODELS[name]
    samples = batch * batches
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(1)
    x = torch.randn((samples,) + shape, device=device)
    y = torch.randint(0, 10, (samples,), device=device)
    model = make_model(name).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    epoch(model, optimizer, loss_fn, x, y, batch)
    torch.cuda.synchronize(device)
    epochs, start = 0, time.perf_counter()
    while True:
        epoch(model, optimizer, loss_fn, x, y, batch)
        epochs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    return epochs * samples / elapsed, torch.cuda.max_memory_allocated(device)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--compare", help="CSV printed by gpu_bench")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--tf32", action="store_true")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    device = torch.device("cuda:0")
    results = {name: run(name, args.seconds, device) for name in MODELS}
    if not args.compare:
        print("model,samples_per_second,peak_bytes")
        for name, (rate, peak) in results.items():
            print(f"{name},{rate:.1f},{peak}")
        return
    with open(args.compare) as file:
        ours = {row["model"]: row for row in csv.DictReader(file)}
    print(f"GPU: {torch.cuda.get_device_name(device)}; PyTorch {torch.__version__}, "
          f"CUDA {torch.version.cuda}, tf32 {'on' if args.tf32 else 'off'}")
    print()
    print("| model | cgrad samples/s | PyTorch samples/s | speed ratio | cgrad peak MiB | "
          "PyTorch peak MiB | memory ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (rate, peak) in results.items():
        row = ours.get(name)
        if not row:
            print(f"| {name} | missing | {rate:.0f} | | | {peak / 2**20:.1f} | |")
            continue
        our_rate, our_peak = float(row["samples_per_second"]), int(row["peak_bytes"])
        print(f"| {name} | {our_rate:.0f} | {rate:.0f} | {our_rate / rate:.2f}x | "
              f"{our_peak / 2**20:.1f} | {peak / 2**20:.1f} | {our_peak / peak:.2f}x |")


if __name__ == "__main__":
    main()
