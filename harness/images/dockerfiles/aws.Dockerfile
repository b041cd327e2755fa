# edge-harness/aws: the AWS endpoint (moto in server mode behind the harness's dispatcher, with the
# Greengrass V2 / IoT Jobs / fleet status extension) on 0.0.0.0:5000.
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}
# What harness.services.aws gives the process: moto accepts any credentials; without them botocore
# inside moto would look for real ones (and probe the EC2 metadata address for seconds).
ENV AWS_ACCESS_KEY_ID=testing \
    AWS_SECRET_ACCESS_KEY=testing \
    AWS_DEFAULT_REGION=us-east-1 \
    AWS_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true \
    PYTHONUNBUFFERED=1
EXPOSE 5000
ENTRYPOINT ["python", "-m", "harness.services.aws_server"]
CMD ["--host", "0.0.0.0", "--port", "5000", "--extension", "harness.cloud.extension:register"]
