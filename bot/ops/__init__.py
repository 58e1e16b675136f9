"""Operations: settings, the composition root, logging, storage and `maisky doctor`."""
