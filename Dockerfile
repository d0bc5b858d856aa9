# The edgewise controller image (edgewise controller run; see README "failover without a mesh").
#   docker build -t <registry>/edgewise-controller:<tag> .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --prefix=/install '.[controller]'

FROM python:3.11-slim
COPY --from=build /install /usr/local
# non-root, matching the Deployment's securityContext (runAsNonRoot, read-only root filesystem)
USER 65532:65532
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ENTRYPOINT ["edgewise"]
CMD ["controller", "run"]
