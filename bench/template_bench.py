"""What rendering out of process costs: hello-world rendered in a child process with limits
against the same work done in this process, in the same run.

    .venv/bin/python bench/template_bench.py [--renders 200]

No database needed. Lines, each a median over `--renders` renders of examples/hello-world:
- `before`: what Kubernaut did before issue 11, in process: Jinja2's sandbox and yaml.safe_load_all;
- `in process`: today's checks (two renders, the value-placement check), in this process;
- `isolated`: today's path (`releases.templating.render`): the same in a child of the helper,
  for a template the helper has seen (CI registers the same template again and again: the helper
  keeps what Jinja2 compiled it to, releases/isolation.py's memos);
- `isolated, new template`: the same for a template never seen before (compiled in the child).
The ratios printed are isolated / in process, isolated / before, and new template / isolated.
"""

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from jinja2 import StrictUndefined  # noqa: E402
from jinja2.sandbox import SandboxedEnvironment  # noqa: E402

from releases import templating  # noqa: E402

TEMPLATE = (ROOT / "examples" / "hello-world" / "kubernetes.yaml").read_text()
CONTEXT = {
    "service": "hello-world", "version": "1.0.0", "namespace": "staging", "cluster": "sandbox",
    "release_id": "1", "deployment_id": "1", "image": "registry.example/hello-world:1.0.0",
    "replicas": "2",
}  # fmt: skip


def median_ms(work, renders: int) -> float:
    for _ in range(5):
        work()  # warm-up: the helper process starts on the first call
    times = []
    for _ in range(renders):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--renders", type=int, default=200)
    renders = parser.parse_args().renders
    old = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    job = {
        "source": TEMPLATE, "context": CONTEXT, "known": sorted(CONTEXT),
        "max_bytes": templating.MAX_RENDERED_BYTES, "max_steps": templating.MAX_RENDER_STEPS,
    }  # fmt: skip
    assert templating.render_job(job)[0] == "ok"

    before = median_ms(
        lambda: list(yaml.safe_load_all(old.from_string(TEMPLATE).render(**CONTEXT))), renders
    )
    in_process = median_ms(lambda: templating.render_job(job), renders)
    isolated = median_ms(lambda: templating.render(TEMPLATE, CONTEXT, known=set(CONTEXT)), renders)
    fresh = itertools.count()
    new_template = median_ms(
        lambda: templating.render(f"{TEMPLATE}# {next(fresh)}\n", CONTEXT, known=set(CONTEXT)),
        renders,
    )
    print(f"hello-world, median of {renders} renders")
    print(f"  before (in process, no placement check) {before:6.2f} ms")
    print(f"  in process (today's checks)             {in_process:6.2f} ms")
    print(f"  isolated (today's path)                 {isolated:6.2f} ms")
    print(f"  isolated, new template (no memo)        {new_template:6.2f} ms")
    print(f"  isolated / in process: {isolated / in_process:.1f}x; "
          f"isolated / before: {isolated / before:.1f}x; "
          f"new template / isolated: {new_template / isolated:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
