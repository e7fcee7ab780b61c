"""Load, fault and hostile-input runs against a local stack (`python -m salescontrol soak`).

It drives a local stack as devices and their networks would, injects faults, and reads
what the pipeline stored; nothing of the core imports it.

    options     the run's options (one dataclass) and their command line
    inputs      devices and recordings from the seed, encoded once for both runs
    devices     simulated devices running the recorder's own code
    scenario    one run: devices registered and replaying, bad chunks, the drain
    faults      fault injectors: kill, preempt, Postgres restart, proxies, duplicates
    chaos       when faults happen: duplicate deliveries, the random fault schedule
    badaudio    bad chunks on purpose, each with the outcome it owes
    measure     CPU/memory per component, backlog per stage, latency and totals SQL
    figures     throughput and latency of a run
    invariants  the end-of-run checks, one function each
    comparison  the faulted run against the fault-free reference
    canonical   result dumps that compare two runs of the same input
    burst       every device asking for upload URLs at once
    fuzz        property-based requests from the ingest API's OpenAPI document
    probes      the burst and the fuzzing after a faulted run, with their checks
    report      Check and Report
    runner      `run(options)`: composes the above, reference run first
"""
