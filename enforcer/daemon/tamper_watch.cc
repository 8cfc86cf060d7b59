#include "enforcer/daemon/tamper_watch.h"

#include <fmt/format.h>

#include "enforcer/log/log.h"
#include "netlink/ns/netns.h"

namespace bulkhead::daemon {
namespace {

Result<std::shared_ptr<const netlink::NetnsHandle>> open_handle(const std::string& path) {
  auto ns = netlink::NetnsHandle::open(path);
  if (!ns.ok()) return ns.error();
  return std::make_shared<const netlink::NetnsHandle>(std::move(ns).value());
}

}  // namespace

TamperWatch::~TamperWatch() {
  for (const auto& [name, w] : monitors_) {
    poll_.remove(w->monitor.nft_fd());
    poll_.remove(w->monitor.route_fd());
  }
}

void TamperWatch::close(const std::string& endpoint) {
  auto it = monitors_.find(endpoint);
  if (it == monitors_.end()) return;
  poll_.remove(it->second->monitor.nft_fd());
  poll_.remove(it->second->monitor.route_fd());
  monitors_.erase(it);
}

void TamperWatch::enforced(const policy::EndpointPlan& plan) {
  netlink::WatchedObjects what{plan.table.has_value(), plan.tc.egress.has_value(),
                               plan.tc.ingress.has_value()};
  if (auto r = records_.find(plan.endpoint); r != records_.end() && r->second.pending) {
    r->second.pending = false;
    const double ms =
        std::chrono::duration<double, std::milli>(Clock::now() - r->second.detected).count();
    r->second.last_restore_ms = ms;
    log::info("restored after tampering",
              {{"endpoint", plan.endpoint}, {"ms", fmt::format("{:.2f}", ms)}});
  }
  if (!what.any()) {
    close(plan.endpoint);  // nothing of ours in the namespace to protect
    return;
  }
  // The session the apply just used names the namespace; without one, open and stat it here.
  auto session = sessions_ ? sessions_->current(plan.netns) : nullptr;
  auto it = monitors_.find(plan.endpoint);
  if (it != monitors_.end()) {
    auto ino = session ? Result<ino_t>(session->inode()) : netlink::netns_inode(plan.netns);
    if (it->second->netns == plan.netns && ino.ok() && *ino == it->second->monitor.netns_inode()) {
      it->second->monitor.set_watched(what);
      return;
    }
    close(plan.endpoint);  // a new namespace behind the endpoint (restarted container)
  }
  auto ns = session ? Result<std::shared_ptr<const netlink::NetnsHandle>>(session->shared_ns())
                    : open_handle(plan.netns);
  auto mon = ns.ok() ? netlink::ChangeMonitor::open(*ns, what)
                     : Result<netlink::ChangeMonitor>(ns.error());
  if (!mon.ok()) {
    // The periodic resync still repairs this endpoint, only later.
    log::warn("cannot watch for tampering",
              {{"endpoint", plan.endpoint}, {"error", mon.error().to_string()}});
    return;
  }
  auto w = std::make_unique<Watched>(Watched{plan.netns, std::move(*mon)});
  const std::string name = plan.endpoint;
  poll_.add(w->monitor.nft_fd(), [this, name] { on_readable(name, true); });
  poll_.add(w->monitor.route_fd(), [this, name] { on_readable(name, false); });
  monitors_[name] = std::move(w);
}

void TamperWatch::released(const std::string& endpoint, const std::string& netns) {
  close(endpoint);
  records_.erase(endpoint);
}

void TamperWatch::on_readable(const std::string& endpoint, bool nft) {
  auto it = monitors_.find(endpoint);
  if (it == monitors_.end()) return;
  netlink::ChangeMonitor& mon = it->second->monitor;
  netlink::ChangeReport report = nft ? mon.read_nft() : mon.read_route();
  if (!report.any()) return;
  const std::string& netns = it->second->netns;
  if (report.changes.empty()) {
    log::warn("change notifications lost; re-applying", {{"endpoint", endpoint}, {"netns", netns}});
    reconciler_.mark_dirty(endpoint);
    return;
  }
  TamperRecord& rec = records_[endpoint];
  ++rec.repairs;
  rec.last = std::chrono::system_clock::now();
  rec.last_change = report.changes.front();
  if (!rec.pending) {
    rec.pending = true;
    rec.detected = Clock::now();
  }
  log::warn("tampering detected; restoring", {{"endpoint", endpoint},
                                              {"netns", netns},
                                              {"change", report.changes.front()},
                                              {"changes", std::to_string(report.changes.size())}});
  if (metrics_) metrics_->count_tamper_repair(endpoint);
  reconciler_.mark_dirty(endpoint);
}

}  // namespace bulkhead::daemon
