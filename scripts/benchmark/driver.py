"""Times budgetrain against PyTorch (CPU) on the same data, models, optimizer, batch and
threads, interleaving the two so that machine drift hits both alike, and prints one line per
measure: `name: value unit` and, where there is a peer, the ratio budgetrain / PyTorch.

Run through scripts/bench, which builds budgetrain in release mode and provides PyTorch.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_child(cmd, env=None):
    """Runs a command; returns (stdout, wall seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    # communicate() has reaped the child; its rusage is in RUSAGE_CHILDREN only cumulatively,
    # so peak RSS is taken per child through wait4 in rss_of instead when it matters.
    if proc.returncode != 0:
        sys.exit(f"bench: command failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return out, wall


def peak_rss(cmd, env=None):
    """Peak resident set size (MiB) of one run of cmd, from wait4's rusage."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"bench: command failed: {' '.join(cmd)}")
    return usage.ru_maxrss / 1024.0


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"bench: no result line in output:\n{text}")


def jobs_measure(args, env, passes):
    """Runs per second of the benchmark grid with --jobs 2 against --jobs 1."""
    grid = os.path.join(HERE, "grid.lua")
    walls, run_seconds = {}, {}
    for jobs in (1, 2):
        times, trained = [], []
        for _ in range(passes):
            with tempfile.TemporaryDirectory() as out_dir:
                _, wall = run_child([args.budgetrain, "run", grid, "--quiet", "--jobs", str(jobs), "--threads",
                                     str(args.threads), "--out", out_dir] + (["--", "--quick"] if args.quick else []), env=env)
                times.append(wall)
                with open(os.path.join(out_dir, "bench-grid", "results.csv")) as f:
                    trained += [float(row["seconds"]) for row in csv.DictReader(f)]
        walls[jobs] = statistics.median(times)
        run_seconds[jobs] = statistics.median(trained)
    # --jobs 1 trains each run on all the threads, --jobs 2 two runs at once on half of them:
    # however cheap the workers, the ratio cannot pass 2 · (run time on all threads) / (run
    # time on half), which is printed beside it.
    ceiling = 2 * run_seconds[1] / run_seconds[2]
    print(f"jobs2_vs_jobs1_runs_per_second: ratio {walls[1] / walls[2]:.2f} (wall {walls[1]:.1f} s vs {walls[2]:.1f} s);"
          f" one run trains in {run_seconds[1]:.2f} s on {args.threads} threads and {run_seconds[2]:.2f} s on"
          f" {max(args.threads // 2, 1)}, so at most {ceiling:.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgetrain", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer steps, one pass (a smoke test of the script)")
    args = ap.parse_args()
    passes = 1 if args.quick else args.passes
    steps = {"mlp": 600, "cnn": 120, "resnet": 30} if not args.quick else {"mlp": 50, "cnn": 10, "resnet": 4}
    env = dict(os.environ)
    models_lua = os.path.join(HERE, "models.lua")
    torch_py = os.path.join(HERE, "torch_models.py")

    def ours(model, n, schedule="builtin", extra_env=None):
        e = dict(env, **(extra_env or {}))
        out, _ = run_child([args.budgetrain, "run", models_lua, "--quiet", "--threads", str(args.threads), "--",
                            model, str(n), schedule], env=e)
        return last_json(out)

    def theirs(model, n):
        out, _ = run_child([args.python, torch_py, model, str(n), str(args.threads)], env=env)
        return last_json(out)

    print(f"# budgetrain vs PyTorch (CPU), {args.threads} threads, batch 128, SGD momentum 0.9 nesterov wd 5e-4,"
          f" Fashion-MNIST; medians of {passes} interleaved passes")
    version = subprocess.run([args.budgetrain, "--version"], capture_output=True, text=True).stdout.strip()
    torch_version = subprocess.run([args.python, "-c", "import torch; print(torch.__version__)"],
                                   capture_output=True, text=True).stdout.strip()
    print(f"# {version.replace(chr(10), '; ')}; torch {torch_version}")

    # The yardstick: the fastest square sgemm through budgetrain's BLAS on the same threads,
    # measured once per pass between the models (so drift hits it as it hits them).
    def peak():
        out, _ = run_child([args.budgetrain, "peak", "--threads", str(args.threads), "--size", "2048",
                            "--repeats", "3" if args.quick else "5"], env=env)
        return float(out.split()[1])

    peaks, results = [], {}
    for _ in range(passes):
        peaks.append(peak())
        for model in ("mlp", "cnn", "resnet"):
            mine, their = ours(model, steps[model]), theirs(model, steps[model])
            results.setdefault(model, []).append((mine, their))
    sgemm = statistics.median(peaks)
    print(f"sgemm_peak: {sgemm:.1f} GFLOP/s (square n=2048 products, {args.threads} threads; median of"
          f" {len(peaks)} passes, each the best of its products)")
    for model in ("mlp", "cnn", "resnet"):
        ma = statistics.median(m["examples_per_second"] for m, _ in results[model])
        mb = statistics.median(t["examples_per_second"] for _, t in results[model])
        flops = results[model][0][0]["flops_per_example"]
        ours_gflops, theirs_gflops = ma * flops / 1e9, mb * flops / 1e9
        print(f"{model}_examples_per_second: {ma:.0f} examples/s (pytorch {mb:.0f}); ratio {ma / mb:.2f}")
        print(f"{model}_training_flops: {flops * 128 / 1e9:.3f} GFLOP per step of 128 ({flops / 1e6:.2f} MFLOP per"
              f" example: 6 per multiply-add of the convolutions and linear layers)")
        print(f"{model}_share_of_peak: {100 * ours_gflops / sgemm:.1f} % ({ours_gflops:.1f} GFLOP/s of {sgemm:.1f});"
              f" pytorch {100 * theirs_gflops / sgemm:.1f} % ({theirs_gflops:.1f} GFLOP/s)")

    shares = []
    for _ in range(passes):
        prof = ours("mlp", steps["mlp"], extra_env={"BUDGETRAIN_PROFILE_GEMM": "1"})
        if "gemm_seconds" in prof:
            shares.append(prof["gemm_seconds"] / prof["seconds"])
    if shares:
        print(f"mlp_step_share_in_sgemm: {100 * statistics.median(shares):.1f} % (median of {len(shares)} runs;"
              f" {100 * min(shares):.1f} to {100 * max(shares):.1f})")

    # Both schedules in one process, in alternating pairs: separate processes differ by more
    # than the effect (this machine drifts by up to ±20% from run to run). The headline is the
    # time spent inside the schedule call, Lua minus built-in, as a share of the step time;
    # the median wall-clock difference over the pairs is printed beside it as a cross-check.
    pairs = ours("mlp", steps["mlp"], "pairs")
    tb, tl = pairs["builtin_seconds"], pairs["lua_seconds"]
    wall = statistics.median(l / b - 1 for l, b in zip(tl, tb))
    extra = statistics.median((l - b) / t for l, b, t in
                              zip(pairs["lua_schedule_seconds"], pairs["builtin_schedule_seconds"], tb))
    per_step = statistics.median(pairs["lua_schedule_seconds"]) / steps["mlp"] * 1e6
    print(f"lua_schedule_overhead: {100 * extra:+.2f} % of step time inside the schedule call"
          f" ({per_step:.1f} us per step); wall {100 * wall:+.2f} % (median of {len(tb)} alternating pairs)")

    # Two runs at once can only gain where one run leaves cores idle: with as many threads as
    # cores, a single run already fills the machine, and the measure would say nothing.
    cores = os.cpu_count() or 1
    if 2 * args.threads > cores:
        print(f"jobs2_vs_jobs1_runs_per_second: not measured ({args.threads} threads per run on {cores} cores:"
              f" one run already fills the machine; try --threads {max(cores // 2, 1)})")
    else:
        jobs_measure(args, env, passes)

    starts = []
    for _ in range(passes):
        t0 = time.time()
        r = ours("mlp", 1)
        starts.append(r["started_at"] - t0 if "started_at" in r else float("nan"))
    print(f"start_to_first_step: {statistics.median(starts):.3f} s")

    rss_ours = peak_rss([args.budgetrain, "run", models_lua, "--quiet", "--threads", str(args.threads), "--", "mlp",
                         str(steps["mlp"])], env=env)
    rss_torch = peak_rss([args.python, torch_py, "mlp", str(steps["mlp"]), str(args.threads)], env=env)
    print(f"peak_rss_mlp_run: {rss_ours:.0f} MiB (pytorch {rss_torch:.0f} MiB); ratio {rss_ours / rss_torch:.2f}")


if __name__ == "__main__":
    main()
