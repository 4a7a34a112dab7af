"""`techkb bench`: ingest, query, cold-start and scale benchmarks.

Every comparison is a ratio measured in the same run (the reference machine has two shared,
noisy cores), with medians over repeated runs. Parts: `ingest` (techkb vs a plain llama-index
pipeline; embedding throughput vs pure `encode`), `query` (retrieval and extractive ask
latency vs plain vector retrieval, in-process and over HTTP), `coldstart` (`techkb ask` in a
fresh process, and the slowest imports), `scale` (synthetic stores of growing size),
`concurrency` (questions answered beside a heavy one by `techkb serve`, vs one answer worker).
"""

PARTS = ("ingest", "query", "coldstart", "scale", "concurrency")
