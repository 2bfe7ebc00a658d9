"""One exception family. Every error names what went wrong and what to do about it."""

ERROR_TYPES = (
    "not_found",          # the path does not exist
    "is_directory",       # a folder where a file was expected
    "empty_file",         # zero bytes
    "unreadable",         # exists but cannot be opened (permissions, I/O error)
    "not_audio",          # no decoder recognises the bytes
    "unsupported_codec",  # a container we can open but a codec we cannot decode
    "zero_length",        # a valid header with no samples
    "no_speech",          # decodable audio without any signal
    "too_long",           # longer than the configured maximum
    "too_many_channels",  # more than 2 channels: mono or agent/caller stereo only
    "bad_config",         # the configuration cannot be used
    "model_missing",      # a model file is absent or corrupt
    "missing_leg",        # one file of a two-file call without its partner
    "bad_metadata",       # a file name or sidecar whose metadata cannot be read
    "worker_crashed",     # the process scoring the call died (segfault, out of memory)
    "warehouse_busy",     # another run holds the warehouse's lock
    "bad_warehouse",      # the output folder is not a speechqa warehouse
    "warehouse_unwritable",  # the warehouse cannot be written (read-only, full disk, permissions)
    "internal",           # a bug in speechqa (reported by the CLI and the batch, never raised)
)


class SpeechQAError(Exception):
    """A domain error: `error_type` is one of ERROR_TYPES, the message says what to do."""

    def __init__(self, message: str, *, error_type: str):
        if error_type not in ERROR_TYPES:
            raise ValueError(f"unknown error_type {error_type!r}; use one of {ERROR_TYPES}")
        super().__init__(message)
        self.error_type = error_type
