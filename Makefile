# Liège eHub: `make up` runs the whole hub locally, `make test` runs every test.
PYTHON := .venv/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: up down status test test-unit bench chaos lint bootstrap contracts image

bootstrap:
	@scripts/bootstrap.sh

up: bootstrap
	@$(PYTHON) scripts/devstack.py up

down:
	@$(PYTHON) scripts/devstack.py down

status:
	@$(PYTHON) scripts/devstack.py status

test: bootstrap
	@$(PYTHON) -m pytest

# make bench [REPLICAS=2] [QUICK=1]: its own stack on the project's PostgreSQL and Kafka.
bench: bootstrap
	@$(PYTHON) scripts/bench.py --replicas $(or $(REPLICAS),1) $(if $(QUICK),--quick)

# After changing an event in shared/events.py: regenerate contracts/ (refuses a breaking change).
contracts: bootstrap
	@$(PYTHON) scripts/contracts.py write

# make chaos [QUICK=1]: faults under load on a stack of its own (<= 10 min), one row per scenario.
chaos: bootstrap
	@$(PYTHON) scripts/chaos.py $(if $(QUICK),--quick)

test-unit: bootstrap
	@$(PYTHON) -m pytest tests/unit

lint: bootstrap
	@$(PYTHON) -m ruff check shared services scripts tests
	@$(PYTHON) -m ruff format --check shared services scripts tests

# make image [IMAGE=registry/name:tag]: needs a container engine that reaches Docker Hub (not
# make test's business); the OCI labels name the commit it was built from.
IMAGE ?= liege-ehub:dev
image:
	docker build -f deploy/docker/Dockerfile -t $(IMAGE) \
		--build-arg VERSION=$$(git describe --tags --always --dirty) \
		--build-arg REVISION=$$(git rev-parse HEAD) \
		--build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
		--build-arg SOURCE=$$(git remote get-url origin 2>/dev/null || echo unknown) .
