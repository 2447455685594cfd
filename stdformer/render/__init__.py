"""Drawing: the offscreen pyrender renderer, camera/geometry helpers, GL platform set-up and
patches, the live views and the lighter display mesh."""
