"""Speed benchmarks (``make bench``): not unit tests; they time the real model on this machine."""
