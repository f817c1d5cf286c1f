# cem: the two entry points a new user needs.
#   make demo  – install system packages, build, run the pipeline on built-in synthetic data
#   make test  – install system packages, build, run the whole test suite
SWIFT ?= swift

.PHONY: demo test build bootstrap clean

bootstrap:
	@scripts/bootstrap

build: bootstrap
	$(SWIFT) build -c release

demo: build
	@scripts/demo

test: bootstrap
	$(SWIFT) build --build-tests
	$(SWIFT) test

clean:
	rm -rf .build demo-output
