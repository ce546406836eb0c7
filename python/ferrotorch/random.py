"""torch.random: the default generator's seeding and state."""

from ._C import Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state  # noqa: F401
