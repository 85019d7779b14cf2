"""Fulfillment service: carries shipments through the Liège hub to their destination."""
