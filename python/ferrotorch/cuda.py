"""torch.cuda on a CPU-only library: nothing is available, and asking for it says so."""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """Accepted and ignored, as torch does when CUDA is absent."""


def manual_seed_all(seed: int) -> None:
    """Accepted and ignored, as torch does when CUDA is absent."""


def is_initialized() -> bool:
    return False


def synchronize(device=None) -> None:
    """Nothing to wait for on the CPU."""


def empty_cache() -> None:
    """No device cache to free."""


def current_device() -> int:
    raise RuntimeError("Torch not compiled with CUDA enabled: ferrotorch runs on the CPU only")
