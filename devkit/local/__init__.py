"""The local cloud stack: Postgres, the Pub/Sub emulator, fake-gcs-server and the
functions under functions-framework, wired like production.

    stack        LocalStack: composes the parts below in start order; what callers use
    supervisor   the child processes: spawn (dying with us), wait, restart, stop
    services     one class per emulator and Python child: argv, env, port, readiness
    postgres     the throwaway cluster: initdb, server, database and migrations
    scheduler    Cloud Scheduler's part: call the sweeper and the digest on a timer
    mail         the outside world's stand-ins: an SMTP server, Telegram's Bot API
    provision    the bucket, topics and subscriptions of topology.yaml on the emulators
    prereqs      find the programs (java, the emulator, postgres, fake-gcs-server)
    files        the working directory: logs/, the signing key, env.sh
    net          free ports and readiness probes
"""
