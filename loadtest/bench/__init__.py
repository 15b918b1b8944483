"""The benchmark harness behind ``make bench``: every layer of the stack against the in-process limit.

    python -m loadtest.bench --models tiny,shape-true --concurrency 1,8,32,64,128 --duration 10 --out results/bench-X

Modules, in the order a run uses them: ``models`` (export the benchmark models with the export CLI),
``servers`` (start Triton, the gateway and the baseline as real processes on free localhost ports),
``systems`` (one client per system under test, plus the in-process limit), ``loadgen`` (the
closed-loop load generator), ``triton_metrics`` (Triton's rows per execution, from its counters),
``stats`` (percentiles and one result per cell), ``report``
(JSON, markdown and PNG) and ``runner`` (the whole run).
"""
