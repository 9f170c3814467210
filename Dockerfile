# regfs-server in the layout of the registry:2 image, so the classic command line works:
#   docker run -d -p 5000:5000 -v /srv/registry:/var/lib/registry \
#     -e REGISTRY_STORAGE_DELETE_ENABLED=true regfs
# BASE holds regfs-server (in /usr/local/bin) and the libraries it links; build one from a
# local build with scripts/docker-base.sh, which needs no registry to pull from.
ARG BASE=regfs-base:latest
FROM ${BASE}
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY packaging/config.yml /etc/docker/registry/config.yml
VOLUME ["/var/lib/registry"]
EXPOSE 5000
ENTRYPOINT ["regfs-server"]
CMD ["/etc/docker/registry/config.yml"]
