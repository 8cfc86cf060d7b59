#include "enforcer/daemon/source_set.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

#include "enforcer/sources/docker/source_factory.h"

namespace bulkhead::daemon {

Result<Sources> ProductionSources::make(const Options& opts) {
  Sources out;
  for (const auto& spec : opts.sources) {
    if (spec.kind == SourceSpec::Kind::inventory) {
      auto inv = std::make_unique<InventorySource>(spec.path);
      out.inventories.push_back(inv.get());
      out.all.push_back(std::move(inv));
      continue;
    }
    auto docker = make_docker_source(spec.path, std::chrono::seconds(opts.resync_interval_s));
    if (!docker) return make_error("", "the docker source is not available in this build");
    out.all.push_back(std::move(docker));
  }
  if (!opts.cluster.urls.empty()) {
    ClusterSource::Options co;
    co.urls = opts.cluster.urls;
    co.tls = {opts.cluster.cacert, opts.cluster.cert, opts.cluster.key};
    co.prefix = opts.cluster.prefix;
    co.node = opts.cluster.node;
    co.lease_ttl_s = opts.cluster.lease_ttl_s;
    // --once reads the membership but never writes it: nothing would keep its lease alive after
    // the process exits, so its records would vanish a TTL later anyway (docs/cluster.md).
    co.publish = !opts.once;
    auto cluster = std::make_unique<ClusterSource>(co);
    out.cluster = cluster.get();
    out.all.push_back(std::move(cluster));
  }
  return out;
}

SourceSet::SourceSet() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

SourceSet::~SourceSet() {
  for (auto& s : sources_.all) s->stop();
}

Status SourceSet::start() {
  auto wake = [fd = wake_.get()] {
    uint64_t one = 1;
    (void)!::write(fd, &one, sizeof(one));
  };
  for (auto& src : sources_.all)
    if (Status s = src->start(wake); !s.ok()) return s;
  return {};
}

bool SourceSet::ready() {
  for (auto& s : sources_.all)
    if (!s->snapshot().ready) return false;
  return true;
}

void SourceSet::drain_wake() {
  uint64_t n;
  (void)!::read(wake_.get(), &n, sizeof(n));
}

std::optional<Gathered> SourceSet::gather() {
  Gathered g;
  for (auto& src : sources_.all) {
    Snapshot snap = src->snapshot();
    if (!snap.ready) return std::nullopt;
    auto& into = src.get() == sources_.cluster ? g.remote : g.local;
    into.insert(into.end(), std::make_move_iterator(snap.endpoints.begin()),
                std::make_move_iterator(snap.endpoints.end()));
    g.unenforceable.insert(g.unenforceable.end(), snap.unenforceable.begin(),
                           snap.unenforceable.end());
  }
  return g;
}

std::vector<SourceHealth> SourceSet::health() {
  std::vector<SourceHealth> out;
  for (auto& s : sources_.all) {
    auto snap = s->snapshot();
    out.push_back({s->name(), snap.ready, snap.error});
  }
  return out;
}

}  // namespace bulkhead::daemon
