"""The local cloud stack: Postgres, the Pub/Sub emulator, fake-gcs-server and the
functions under functions-framework, wired like production."""
