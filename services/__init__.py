"""The four services of the hub. They never import each other; they share only `shared`."""
