"""The recorder agent of a cash register's Raspberry Pi.

It records the sales floor in opus chunks into a local spool and ships them to the
ingest API through signed URLs, surviving flaky networks and power cuts. It depends
only on sounddevice, soundfile, numpy, requests and PyYAML: never on `salescontrol`.

    config      the seed's config.yaml, validated field by field
    sources     microphone (sounddevice) and replay (a recording file) audio sources
    writer      blocks of audio -> opus chunk files, partial in inbox, atomic into outbox
    capture     source -> queue -> writer, inside the schedule window
    spool       the inbox / outbox / failed directories, names, salvage, retention
    uploader    outbox -> ingest API -> bucket, with backoff; heartbeat
    health      the shared health state and its HTTP endpoint
    agent       wires them together; `python -m recorder`
    replay      feed a recording file through the whole pipeline from Python
"""
