# The two commands a new machine needs (see README):
#   make demo   install Pricewatch and run the whole product on a simulated market
#   make test   install with test tools and run lint plus every test
.PHONY: demo test install install-dev lint format

demo: install
	.venv/bin/pricewatch demo

test: install-dev
	scripts/test.sh

install:
	scripts/install.sh

install-dev:
	scripts/install.sh --dev

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
