"""speechqa: speech analytics for contact-centre quality assurance.

    from speechqa import load_config, score_call
    result = score_call("call.wav", config=load_config(None))
    result.score.total, result.verdicts, result.metrics

The names below are imported when first used, not when speechqa is: `import speechqa` (and a
batch worker's `import speechqa.worker`) loads no numpy, model or audio library, so a worker can
cap its threads before they load.
"""

__version__ = "0.2.0"

# name -> the module that defines it
_FACE = {
    "score_call": "speechqa.call",
    "CallResult": "speechqa.call",
    "load_config": "speechqa.config",
    "Config": "speechqa.config",
    "SpeechQAError": "speechqa.errors",
}
__all__ = ["__version__", *_FACE]


def __getattr__(name: str):
    if name in _FACE:
        import importlib

        return getattr(importlib.import_module(_FACE[name]), name)
    raise AttributeError(f"module 'speechqa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_FACE))
