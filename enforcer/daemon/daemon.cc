#include "enforcer/daemon/daemon.h"

#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "common/unique_fd.h"
#include "enforcer/daemon/file_watch.h"
#include "enforcer/log/log.h"
#include "enforcer/sources/cluster/record.h"
#include "enforcer/sources/docker/source_factory.h"
#include "enforcer/status/socket.h"
#include "netlink/ns/link_addresses.h"
#include "netlink/ns/netns.h"
#include "policy/load/load.h"
#include "policy/plan/compile.h"
#include "policy/plan/plan_limits.h"
#include "policy/plan/render.h"

namespace bulkhead::daemon {
namespace {

constexpr size_t kRecentErrors = 20;

void log_diagnostics(const policy::Diagnostics& diags) {
  for (const auto& d : diags) {
    log::write(d.severity == policy::Severity::error ? spdlog::level::err : spdlog::level::warn,
               d.message, {{"pos", d.pos.to_string()}, {"rule", d.rule}});
  }
}

// The first error as "file:line:col: message [rule]", for status (which keeps one line per error).
std::string first_error(const policy::Diagnostics& diags) {
  for (const auto& d : diags) {
    if (d.severity != policy::Severity::error) continue;
    const std::string at = d.pos.to_string();
    return (at.empty() ? "" : at + ": ") + d.message + " [" + d.rule + "]";
  }
  return "";
}

// Inventory entries may leave addresses out: they are read from the namespace itself.
void fill_addresses(policy::Endpoints& endpoints) {
  for (auto& ep : endpoints) {
    if (!ep.addresses.empty()) continue;
    auto ns = netlink::NetnsHandle::open(ep.netns);
    if (!ns.ok()) continue;  // the apply reports the missing namespace
    auto addrs = netlink::read_addresses(*ns);
    if (addrs.ok())
      ep.addresses = std::move(*addrs);
    else
      log::warn("cannot read addresses",
                {{"endpoint", ep.name}, {"error", addrs.error().to_string()}});
  }
}

bool selects(const policy::Subject& s, const policy::Endpoint& ep) {
  return s.pods.matches(ep.labels) && (!s.ns || *s.ns == ep.k8s_namespace());
}

// The native groups and the policies whose subjects select the endpoint, for status.
std::pair<std::set<std::string>, std::set<std::string>> membership(const policy::PolicySet& set,
                                                                   const policy::Endpoint& ep) {
  std::set<std::string> groups, policies;
  auto note = [&](const policy::Subject& s, const policy::Origin& o) {
    if (!selects(s, ep)) return;
    if (!s.group.empty()) groups.insert(s.group);
    policies.insert(o.policy);
  };
  for (const auto& i : set.isolations) note(i.subject, i.origin);
  for (const auto& r : set.rules) note(r.subject, r.origin);
  for (const auto& l : set.limits) note(l.subject, l.origin);
  return {groups, policies};
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Daemon::Daemon(const Options& opts, netlink::Dataplane& dataplane)
    : opts_(opts),
      dataplane_(dataplane),
      reconciler_(dataplane),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Daemon::~Daemon() {
  for (auto& s : sources_) s->stop();
}

bool Daemon::load_policies() {
  auto load = policy::load_policies(opts_.policies);
  log_diagnostics(load.diagnostics);
  std::string problem = first_error(load.diagnostics);
  // No policy at all would release every endpoint. A deleted file or a directory emptied by a
  // half-done deploy is far likelier than a wish to drop all enforcement: refuse it like a
  // broken file (docs/security.md, Faults).
  if (problem.empty() && load.set.policies.empty()) {
    problem =
        "no policy in the policy paths (deleted or empty?); refusing to release every endpoint";
    log::error(problem);
  }
  // A reload must also compile, over the endpoints now enforced, to a plan within the limits
  // (policy/model/limits.h); accepted, it would be refused at every later event with the good set
  // gone.
  if (problem.empty() && policies_) {
    policy::Endpoints endpoints;
    for (const auto& [name, ep] : known_) endpoints.push_back(ep);
    auto refused = policy::check_plan_limits(policy::compile(load.set, endpoints), endpoints);
    log_diagnostics(refused);
    problem = first_error(refused);
  }
  if (!problem.empty()) {
    if (policy_error_.empty()) policy_error_since_ = std::chrono::system_clock::now();
    policy_error_ = problem;
    remember_error("policy not loaded: " + problem);
    return false;
  }
  policy_error_.clear();
  policies_ = std::move(load.set);
  // What other nodes compare with theirs (docs/cluster.md). A file changed since it was read is
  // seen by the reload its change triggers.
  if (auto digest = cluster::policy_digest_of_files(load.files); digest.ok())
    policy_digest_ = *digest;
  else
    log::warn("policy digest not computed", {{"error", digest.error().to_string()}});
  return true;
}

void Daemon::refresh_desired() {
  policy::Endpoints all, remote;
  std::vector<Unenforceable> unenforceable;
  for (auto& src : sources_) {
    Snapshot snap = src->snapshot();
    // No writes until every source has read its first full list: a partial view would remove
    // the tables of endpoints that simply were not listed yet.
    if (!snap.ready) return;
    auto& into = src.get() == cluster_ ? remote : all;
    into.insert(into.end(), snap.endpoints.begin(), snap.endpoints.end());
    unenforceable.insert(unenforceable.end(), snap.unenforceable.begin(), snap.unenforceable.end());
  }
  // Local endpoints only: remote ones carry the addresses their own node published.
  fill_addresses(all);
  // Publish after every refresh of the local endpoints; the source writes only what changed.
  if (cluster_) cluster_->publish(all, policy_digest_);
  all.insert(all.end(), std::make_move_iterator(remote.begin()),
             std::make_move_iterator(remote.end()));
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  auto dup = std::adjacent_find(all.begin(), all.end(),
                                [](const auto& a, const auto& b) { return a.name == b.name; });
  if (dup != all.end()) {
    remember_error("endpoint " + dup->name + " is defined by two sources; keeping the last state");
    log::error("endpoint defined by two sources", {{"endpoint", dup->name}});
    return;
  }
  auto plan = policy::compile(*policies_, all);
  // A plan beyond the limits is refused whole, before anything reaches the kernel: every
  // endpoint keeps what it has.
  if (auto refused = policy::check_plan_limits(plan, all); !refused.empty()) {
    log_diagnostics(refused);
    plan_refused_ = first_error(refused);
    remember_error("plan refused: " + plan_refused_ + "; the running enforcement is kept");
    log::error("plan refused; the running enforcement is kept as it was");
    return;
  }
  plan_refused_.clear();
  unenforceable_ = std::move(unenforceable);
  known_.clear();
  for (const auto& ep : all) known_.emplace(ep.name, ep);
  reconciler_.set_desired(std::move(plan));
}

int Daemon::apply_due() {
  int failed = 0;
  bool applied_any = false;
  for (const auto& o : reconciler_.apply_dirty(Clock::now())) {
    log::Fields f{
        {"endpoint", o.endpoint}, {"netns", o.netns}, {"ms", fmt::format("{:.2f}", o.ms)}};
    if (o.status.ok()) {
      applied_any = true;
      notify_watchers(o);
      if (metrics_) metrics_->observe_apply(o.ms / 1000.0);
      if (o.removed && metrics_) metrics_->forget_endpoint(o.endpoint);
      log::info(o.removed ? "endpoint released" : "endpoint enforced", f);
      continue;
    }
    f.emplace_back("error", o.status.error().to_string());
    remember_error(o.endpoint + ": " + o.status.error().to_string());
    if (metrics_) metrics_->count_apply_error();
    if (o.removed) {
      log::warn("endpoint release failed", f);
    } else {
      ++failed;
      log::error("endpoint apply failed", f);
    }
  }
  if (applied_any && pending_event_ && metrics_) {
    metrics_->observe_event_to_enforced(
        std::chrono::duration<double>(Clock::now() - *pending_event_).count());
  }
  pending_event_.reset();
  publish_endpoint_metrics();
  // Compiling and applying churn through short-lived allocations; hand the freed pages back so
  // the resident size reflects what the daemon keeps, not its peak.
  ::malloc_trim(0);
  return failed;
}

FlowLog::Context Daemon::flow_context() {
  FlowLog::Context ctx;
  ctx.endpoint_at = [this](const policy::IpAddr& addr) -> std::string {
    for (const auto& [name, ep] : known_)
      for (const auto& a : ep.addresses)
        if (a == addr) return name;
    return "";
  };
  // The policies isolating that side: the enforcing ones decide a drop, the audit ones a
  // would-deny (docs/policy.md, Audit mode).
  ctx.deciding = [this](const std::string& endpoint, bool egress, bool audit) {
    std::set<std::string> names;
    auto k = known_.find(endpoint);
    if (policies_ && k != known_.end()) {
      const auto dir = egress ? policy::Direction::egress : policy::Direction::ingress;
      for (const auto& iso : policies_->isolations)
        if (iso.dir == dir && iso.origin.audit == audit && selects(iso.subject, k->second))
          names.insert(iso.origin.policy);
    }
    return std::vector<std::string>(names.begin(), names.end());
  };
  ctx.counted = [this](const FlowRecord& r) {
    if (!metrics_) return;
    for (const auto& p : r.policies) metrics_->count_flow(r.endpoint, r.direction, p, r.verdict);
    if (r.policies.empty()) metrics_->count_flow(r.endpoint, r.direction, "", r.verdict);
  };
  return ctx;
}

void Daemon::notify_watchers(const ApplyOutcome& o) {
  if (watchers_.empty()) return;
  if (o.removed) {
    for (auto& w : watchers_) w->released(o.endpoint, o.netns);
    return;
  }
  auto it = reconciler_.endpoints().find(o.endpoint);
  if (it == reconciler_.endpoints().end()) return;
  for (auto& w : watchers_) w->enforced(it->second.desired);
}

void Daemon::check_drift() {
  if (metrics_) metrics_->count_resync();
  auto refresh_drops = [this](const std::string& name, const netlink::Observed& seen) {
    if (!metrics_ || !seen.table) return;
    for (const auto& chain : seen.table->chains)
      for (const auto& r : chain.rules)
        if (r.kind == policy::RuleKind::final_drop)
          metrics_->set_dropped(name, chain.name, static_cast<double>(r.packets));
  };
  for (const auto& name : reconciler_.check_drift(refresh_drops)) {
    log::warn("drift detected; repairing", {{"endpoint", name}});
    if (metrics_) metrics_->count_drift_repair();
  }
}

void Daemon::publish_endpoint_metrics() {
  if (!metrics_) return;
  double enforced = 0, failed = 0, pending = 0;
  for (const auto& [name, st] : reconciler_.endpoints()) {
    if (!st.dirty)
      ++enforced;
    else if (st.failures > 0)
      ++failed;
    else
      ++pending;
  }
  metrics_->set_endpoints("enforced", enforced);
  metrics_->set_endpoints("failed", failed);
  metrics_->set_endpoints("pending", pending);
  metrics_->set_endpoints("unenforceable", static_cast<double>(unenforceable_.size()));
}

void Daemon::publish_cluster_metrics() {
  if (!metrics_ || !cluster_) return;
  auto st = cluster_->status();
  metrics_->set_cluster(st.connected, static_cast<double>(st.remote_endpoints));
}

void Daemon::remember_error(const std::string& text) {
  recent_errors_.push_back(iso_time(std::chrono::system_clock::now()) + " " + text);
  while (recent_errors_.size() > kRecentErrors) recent_errors_.pop_front();
}

std::string Daemon::status_document() {
  nlohmann::ordered_json doc;
  doc["daemon"] = {{"pid", ::getpid()}};
  auto& pols = doc["policies"] = nlohmann::ordered_json::array();
  if (policies_) {
    for (const auto& p : policies_->policies)
      pols.push_back({{"name", p.name},
                      {"kind", p.kind},
                      {"mode", p.audit ? "audit" : "enforce"},
                      {"source", p.pos.to_string()}});
  }
  // While the files do not load, `policies` above is the last good set, still enforced.
  doc["policy_load"] = {{"ok", policy_error_.empty()},
                        {"error", policy_error_},
                        {"since", policy_error_.empty() ? "" : iso_time(policy_error_since_)}};
  doc["policy_digest"] = policy_digest_;
  if (cluster_) {
    auto st = cluster_->status();
    nlohmann::ordered_json c;
    c["node"] = opts_.cluster.node;
    c["prefix"] = opts_.cluster.prefix;
    c["etcd"] = opts_.cluster.urls;
    c["connected"] = st.connected;
    c["error"] = st.error;
    c["revision"] = st.revision;
    c["remote_endpoints"] = st.remote_endpoints;
    auto& nodes = c["nodes"] = nlohmann::ordered_json::array();
    for (const auto& n : st.nodes)
      nodes.push_back({{"node", n.node},
                       {"policy_digest", n.policy_digest},
                       {"endpoints", n.endpoints},
                       {"same_policy", n.policy_digest == policy_digest_}});
    doc["cluster"] = std::move(c);
  }
  auto& eps = doc["endpoints"] = nlohmann::ordered_json::array();
  for (const auto& [name, st] : reconciler_.endpoints()) {
    nlohmann::ordered_json e;
    e["name"] = name;
    e["state"] = !st.dirty ? "enforced" : st.failures > 0 ? "failed" : "pending";
    e["netns"] = st.desired.netns;
    if (auto k = known_.find(name); k != known_.end()) {
      auto addrs = nlohmann::ordered_json::array();
      for (const auto& a : k->second.addresses) addrs.push_back(a.to_string());
      e["addresses"] = addrs;
      if (policies_) {
        auto [groups, pols] = membership(*policies_, k->second);
        e["groups"] = groups;
        e["policies"] = pols;
      }
    }
    e["isolated"] = st.desired.table.has_value();
    e["bandwidth_limited"] = !st.desired.tc.empty();
    // With CAP_NET_ADMIN the endpoint can undo its own rules; its isolation then rests on the
    // repair loop (docs/security.md, Tampering).
    if (auto k = known_.find(name); k != known_.end())
      e["tamper_capable"] = k->second.privileged || k->second.net_admin;
    if (tamper_) {
      e["tamper_watch"] = tamper_->watching(name);
      if (auto r = tamper_->records().find(name); r != tamper_->records().end()) {
        e["tampering"] = {{"repairs", r->second.repairs},
                          {"last", iso_time(r->second.last)},
                          {"change", r->second.last_change},
                          {"restore_ms", std::round(r->second.last_restore_ms * 1000) / 1000}};
      }
    }
    e["error"] = st.last_error;
    e["last_apply"] = iso_time(st.last_apply);
    e["apply_ms"] = std::round(st.last_apply_ms * 1000) / 1000;
    uint64_t allowed = 0, dropped = 0, would_deny = 0;
    auto& rules = e["rules"] = nlohmann::ordered_json::array();
    // Counters are read from the kernel on request, so they are as fresh as the answer.
    if (!st.dirty && st.desired.table) {
      if (auto seen = dataplane_.observe(st.desired.netns); seen.ok() && seen->table) {
        for (const auto& chain : seen->table->chains) {
          uint64_t chain_drop = 0;
          for (const auto& r : chain.rules) {
            if (!r.counter) continue;
            if (r.kind == policy::RuleKind::final_drop) {
              dropped += r.packets;
              chain_drop += r.packets;
            } else if (r.kind == policy::RuleKind::final_accept) {
              would_deny += r.packets;  // an audit-only chain's end: passed, would be denied
            } else {
              allowed += r.packets;
            }
            rules.push_back({{"chain", chain.name},
                             {"comment", r.comment},
                             {"packets", r.packets},
                             {"bytes", r.bytes}});
          }
          if (metrics_) metrics_->set_dropped(name, chain.name, static_cast<double>(chain_drop));
        }
      }
    }
    e["allowed_packets"] = allowed;
    e["dropped_packets"] = dropped;
    e["would_deny_packets"] = would_deny;
    eps.push_back(std::move(e));
  }
  auto& un = doc["unenforceable"] = nlohmann::ordered_json::array();
  for (const auto& u : unenforceable_) un.push_back({{"name", u.name}, {"reason", u.reason}});
  auto& srcs = doc["sources"] = nlohmann::ordered_json::array();
  for (auto& s : sources_) {
    auto snap = s->snapshot();
    srcs.push_back({{"name", s->name()}, {"ready", snap.ready}, {"error", snap.error}});
  }
  auto& flows = doc["flows"] = nlohmann::ordered_json::array();
  if (flow_log_) {
    for (const auto& r : flow_log_->recent()) {
      nlohmann::ordered_json f;
      for (const auto& [k, v] : flow_fields(r)) f[k] = v;
      f["count"] = r.count;
      f[f.contains("port") ? "port" : "icmp_type"] = r.port;
      f["open"] = r.open;
      flows.push_back(std::move(f));
    }
  }
  doc["errors"] = recent_errors_;
  return doc.dump(2) + "\n";
}

sigset_t handled_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask, sig);
  return mask;
}

int Daemon::run() {
  auto wake = [fd = wake_.get()] {
    uint64_t one = 1;
    (void)!::write(fd, &one, sizeof(one));
  };
  for (const auto& spec : opts_.sources) {
    if (spec.kind == SourceSpec::Kind::inventory) {
      auto inv = std::make_unique<InventorySource>(spec.path);
      inventories_.push_back(inv.get());
      sources_.push_back(std::move(inv));
    } else {
      auto docker = make_docker_source(spec.path, std::chrono::seconds(opts_.resync_interval_s));
      if (!docker) {
        std::cerr << "bulkheadd: the docker source is not available in this build\n";
        return 2;
      }
      sources_.push_back(std::move(docker));
    }
  }
  if (!opts_.cluster.urls.empty()) {
    ClusterSource::Options co;
    co.urls = opts_.cluster.urls;
    co.tls = {opts_.cluster.cacert, opts_.cluster.cert, opts_.cluster.key};
    co.prefix = opts_.cluster.prefix;
    co.node = opts_.cluster.node;
    co.lease_ttl_s = opts_.cluster.lease_ttl_s;
    // --once reads the membership but never writes it: nothing would keep its lease alive after
    // the process exits, so its records would vanish a TTL later anyway (docs/cluster.md).
    co.publish = !opts_.once;
    auto cluster = std::make_unique<ClusterSource>(co);
    cluster_ = cluster.get();
    sources_.push_back(std::move(cluster));
  }
  if (!load_policies()) {
    std::cerr << "bulkheadd: the policies did not load; nothing was changed\n";
    return 2;
  }
  for (auto& src : sources_) {
    if (Status s = src->start(wake); !s.ok()) {
      std::cerr << "bulkheadd: " << s.error().to_string() << "; nothing was changed\n";
      return 2;
    }
  }

  if (opts_.once) {
    // Wait (bounded) for every source's first full list.
    for (int i = 0; i < 300; ++i) {
      bool ready = std::all_of(sources_.begin(), sources_.end(),
                               [](auto& s) { return s->snapshot().ready; });
      if (ready) break;
      ::usleep(100 * 1000);
    }
    refresh_desired();
    if (!plan_refused_.empty()) {
      std::cerr << "bulkheadd: " << plan_refused_ << "; nothing was changed\n";
      return 1;
    }
    if (reconciler_.endpoints().empty() &&
        !std::all_of(sources_.begin(), sources_.end(),
                     [](auto& s) { return s->snapshot().ready; })) {
      std::cerr << "bulkheadd: a source never delivered its first list; nothing was changed\n";
      return 1;
    }
    const int failed = apply_due();
    // Enforced without remote peers is enforced, but not as the policy means it across hosts.
    std::string cluster_error;
    if (cluster_) cluster_error = cluster_->snapshot().error;
    if (!cluster_error.empty())
      std::cerr << "bulkheadd: cluster membership not read (" << cluster_error
                << "); endpoints were enforced without remote peers\n";
    if (failed == 0) return cluster_error.empty() ? 0 : 1;
    for (const auto& [name, st] : reconciler_.endpoints())
      if (st.dirty)
        std::cerr << "bulkheadd: endpoint " << name << " (" << st.desired.netns
                  << ") not enforced: " << st.last_error << "\n";
    return 1;
  }

  if (!opts_.metrics_listen.empty()) {
    auto m = Metrics::start(opts_.metrics_listen);
    if (!m.ok()) {
      std::cerr << "bulkheadd: " << m.error().to_string() << "\n";
      return 2;
    }
    metrics_ = std::move(*m);
  }
  auto status = StatusSocket::listen(opts_.status_socket, opts_.status_gid);
  if (!status.ok()) {
    std::cerr << "bulkheadd: " << status.error().to_string() << "\n";
    return 2;
  }

  sigset_t mask = handled_signals();
  UniqueFd sigfd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  itimerspec its{{opts_.resync_interval_s, 0}, {opts_.resync_interval_s, 0}};
  ::timerfd_settime(timer.get(), 0, &its, nullptr);
  std::vector<std::string> watched = opts_.policies;
  for (auto* inv : inventories_) watched.push_back(inv->path());
  FileWatch watch(watched);

  auto tamper = std::make_unique<TamperWatch>(extra_fds_, reconciler_, metrics_.get());
  tamper_ = tamper.get();
  watchers_.push_back(std::move(tamper));
  auto flows = std::make_unique<FlowLog>(extra_fds_, flow_context());
  flow_log_ = flows.get();
  watchers_.push_back(std::move(flows));

  refresh_desired();
  apply_due();
  publish_cluster_metrics();
  log::info("bulkheadd running", {{"sources", std::to_string(sources_.size())}});

  for (;;) {
    int timeout_ms = -1;
    if (auto t = reconciler_.next_retry()) {
      auto d = std::chrono::duration_cast<std::chrono::milliseconds>(*t - Clock::now()).count();
      timeout_ms = static_cast<int>(std::max<long>(0, d));
    }
    std::vector<pollfd> fds = {{sigfd.get(), POLLIN, 0},
                               {timer.get(), POLLIN, 0},
                               {watch.fd(), POLLIN, 0},
                               {wake_.get(), POLLIN, 0},
                               {status->fd(), POLLIN, 0}};
    const size_t fixed = fds.size();
    extra_fds_.fill(fds);
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      log::error("poll failed", {{"error", std::strerror(errno)}});
      return 1;
    }
    bool reload = false, sources_changed = false;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sigfd.get(), &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
          reload = true;
        } else {
          log::info("bulkheadd stopping; enforcement stays in place",
                    {{"signal", strsignal(static_cast<int>(si.ssi_signo))}});
          return 0;
        }
      }
    }
    if (fds[2].revents & POLLIN) {
      // Editors write in several steps; let them finish so one reload sees the final text.
      ::usleep(50 * 1000);
      reload = watch.drain() || reload;
      watch.drain();
    }
    if (reload) {
      bool ok = load_policies();
      for (auto* inv : inventories_) {
        auto diags = inv->reload();
        log_diagnostics(diags);
        if (policy::has_errors(diags))
          remember_error("inventory not loaded: " + first_error(diags));
        ok = ok && !policy::has_errors(diags);
      }
      if (metrics_) metrics_->count_policy_reload(ok);
      if (!ok) {
        remember_error("reload failed; the running enforcement is kept as it was");
        log::error("reload failed; the running enforcement is kept as it was");
      } else {
        log::info("reloaded");
      }
      sources_changed = true;
    }
    if (fds[3].revents & POLLIN) {
      uint64_t n;
      (void)!::read(wake_.get(), &n, sizeof(n));
      if (!pending_event_) pending_event_ = Clock::now();
      sources_changed = true;
      publish_cluster_metrics();
    }
    if (sources_changed) refresh_desired();
    if (fds[1].revents & POLLIN) {
      uint64_t ticks;
      (void)!::read(timer.get(), &ticks, sizeof(ticks));
      check_drift();
    }
    extra_fds_.dispatch(fds, fixed);
    if (reconciler_.has_due_work(Clock::now())) apply_due();
    if (fds[4].revents & POLLIN) status->serve_one([this] { return status_document(); });
  }
}

}  // namespace bulkhead::daemon
