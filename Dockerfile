# The edgewise controller image (edgewise controller run; see README "failover without a mesh").
#   docker build -t <registry>/edgewise-controller:<tag> .
# Not built by the test suite (it runs where no container engine is available):
# tests/test_controller_packaging.py parses this file with BuildKit's own parser and
# lints it with hadolint instead.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# this repository itself, with the controller extra (its versions are bounded in pyproject.toml)
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --prefix=/install '.[controller]'

FROM python:3.11-slim
COPY --from=build /install /usr/local
# non-root, matching the Deployment's securityContext (runAsNonRoot, read-only root filesystem)
USER 65532:65532
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ENTRYPOINT ["edgewise"]
CMD ["controller", "run"]
