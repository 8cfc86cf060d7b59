#include "enforcer/daemon/flow_log.h"

#include <netinet/in.h>
#include <sys/timerfd.h>

#include <algorithm>
#include <ctime>

#include "enforcer/log/log.h"
#include "netlink/ns/netns.h"
#include "policy/plan/plan.h"

namespace bulkhead::daemon {
namespace {

std::string wall_time(std::chrono::system_clock::time_point t) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm;
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms));
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

bool is_icmp(uint8_t proto) { return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6; }

// "bulkhead <deny|would-deny> <ingress|egress> <endpoint>": verdict and direction.
bool parse_prefix(const std::string& prefix, std::string& verdict, std::string& direction) {
  const std::string tag = std::string(policy::kLogTag) + " ";
  if (prefix.rfind(tag, 0) != 0) return false;
  const size_t v_end = prefix.find(' ', tag.size());
  if (v_end == std::string::npos) return false;
  const std::string v = prefix.substr(tag.size(), v_end - tag.size());
  const size_t d_end = prefix.find(' ', v_end + 1);
  direction = prefix.substr(v_end + 1, d_end == std::string::npos ? d_end : d_end - v_end - 1);
  if (direction != "ingress" && direction != "egress") return false;
  if (v == policy::kLogDeny) {
    verdict = "denied";
  } else if (v == policy::kLogWouldDeny) {
    verdict = "would-deny";
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::string proto_name(uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_SCTP:
      return "sctp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmpv6";
    default:
      return std::to_string(proto);
  }
}

std::vector<std::pair<std::string, std::string>> flow_fields(const FlowRecord& r) {
  std::vector<std::pair<std::string, std::string>> f{
      {"verdict", r.verdict},
      {"endpoint", r.endpoint},
      {"direction", r.direction},
      {"src", r.src.to_string()},
      {"src_endpoint", r.src_endpoint},
      {"dst", r.dst.to_string()},
      {"dst_endpoint", r.dst_endpoint},
      {"proto", proto_name(r.proto)},
      {is_icmp(r.proto) ? "icmp_type" : "port", std::to_string(r.port)},
      {"policy", joined(r.policies)},
      {"count", std::to_string(r.count)},
      {"first", wall_time(r.first)},
      {"last", wall_time(r.last)},
  };
  return f;
}

bool FlowAggregator::add(const FlowRecord& r, Clock::time_point now) {
  Key key{r.endpoint, r.direction, r.verdict, r.src, r.dst, r.proto, r.port};
  auto it = open_.find(key);
  if (it != open_.end()) {
    it->second.record.count += r.count;
    it->second.record.last = r.last;
    return true;
  }
  if (open_.size() >= limits_.max_keys) {
    overflow_ += r.count;
    return false;
  }
  const Clock::time_point deadline = now + limits_.window;
  open_.emplace(key, Open{r, deadline});
  order_.emplace_back(deadline, std::move(key));
  return true;
}

std::vector<FlowRecord> FlowAggregator::expire(Clock::time_point now) {
  std::vector<FlowRecord> out;
  // Every window has the same length, so deadlines come in insertion order.
  while (!order_.empty() && order_.front().first <= now) {
    auto it = open_.find(order_.front().second);
    order_.pop_front();
    if (it == open_.end()) continue;
    out.push_back(std::move(it->second.record));
    open_.erase(it);
    recent_.push_back(out.back());
    while (recent_.size() > limits_.recent) recent_.pop_front();
  }
  return out;
}

std::optional<FlowAggregator::Clock::time_point> FlowAggregator::next_deadline() const {
  if (order_.empty()) return std::nullopt;
  return order_.front().first;
}

std::vector<FlowRecord> FlowAggregator::snapshot() const {
  std::vector<FlowRecord> out(recent_.begin(), recent_.end());
  for (const auto& [deadline, key] : order_) {
    auto it = open_.find(key);
    if (it == open_.end()) continue;
    out.push_back(it->second.record);
    out.back().open = true;
  }
  return out;
}

FlowLog::FlowLog(PollSet& polls, Context ctx, FlowAggregator::Limits limits,
                 netlink::Sessions* sessions)
    : polls_(polls),
      ctx_(std::move(ctx)),
      sessions_(sessions),
      agg_(limits),
      timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) {
  if (timer_.get() >= 0) polls_.add(timer_.get(), [this] { flush(); });
}

FlowLog::~FlowLog() {
  for (auto& [name, l] : listeners_) polls_.remove(l->sock.fd());
  if (timer_.get() >= 0) polls_.remove(timer_.get());
}

void FlowLog::enforced(const policy::EndpointPlan& plan) {
  if (!plan.table) {
    close(plan.endpoint);
    return;
  }
  // The session the apply just used names the namespace; without one, open and stat it here.
  auto session = sessions_ ? sessions_->current(plan.netns) : nullptr;
  auto inode = session ? Result<ino_t>(session->inode()) : netlink::netns_inode(plan.netns);
  auto it = listeners_.find(plan.endpoint);
  if (it != listeners_.end() && inode.ok() && it->second->netns == plan.netns &&
      it->second->inode == *inode) {
    return;  // same namespace: the socket stays
  }
  close(plan.endpoint);
  std::optional<netlink::NetnsHandle> own;
  const netlink::NetnsHandle* ns = session ? &session->ns() : nullptr;
  if (!ns) {
    auto opened = netlink::NetnsHandle::open(plan.netns);
    if (!opened.ok()) {
      log::warn("flow log not available", {{"endpoint", plan.endpoint},
                                           {"netns", plan.netns},
                                           {"error", opened.error().to_string()}});
      return;
    }
    own.emplace(std::move(opened).value());
    ns = &*own;
  }
  auto sock = netlink::NflogSocket::open_in(*ns, policy::kNflogGroup);
  if (!sock.ok()) {
    log::warn(
        "flow log not available",
        {{"endpoint", plan.endpoint}, {"netns", plan.netns}, {"error", sock.error().to_string()}});
    return;
  }
  auto l = std::make_unique<Listener>(Listener{plan.netns, ns->inode(), std::move(*sock)});
  const int fd = l->sock.fd();
  listeners_[plan.endpoint] = std::move(l);
  polls_.add(fd, [this, name = plan.endpoint] { drain(name); });
}

void FlowLog::released(const std::string& endpoint, const std::string& netns) { close(endpoint); }

void FlowLog::close(const std::string& endpoint) {
  auto it = listeners_.find(endpoint);
  if (it == listeners_.end()) return;
  polls_.remove(it->second->sock.fd());
  listeners_.erase(it);
}

void FlowLog::drain(const std::string& endpoint) {
  auto it = listeners_.find(endpoint);
  if (it == listeners_.end()) return;
  std::vector<netlink::NflogRecord> recs;
  const uint64_t lost_before = it->second->sock.overruns();
  Status st = it->second->sock.read_available(recs);
  for (const auto& r : recs) take(endpoint, r);
  if (it->second->sock.overruns() != lost_before) {
    log::warn("flow log lost kernel messages (receive buffer full)", {{"endpoint", endpoint}});
  }
  if (!st.ok()) {
    // A broken socket would make poll spin; drop it. The next apply of the endpoint reopens it.
    log::warn("flow log socket failed",
              {{"endpoint", endpoint}, {"error", st.error().to_string()}});
    close(endpoint);
  }
  arm_timer();
}

void FlowLog::take(const std::string& endpoint, const netlink::NflogRecord& rec) {
  FlowRecord r;
  if (!parse_prefix(rec.prefix, r.verdict, r.direction) || rec.family == 0) {
    ++unknown_prefix_;
    return;
  }
  const bool egress = r.direction == "egress";
  r.endpoint = endpoint;
  r.src = rec.src;
  r.dst = rec.dst;
  r.proto = rec.proto;
  r.port = is_icmp(rec.proto) ? static_cast<uint16_t>(std::max(rec.icmp_type, 0)) : rec.dport;
  // The logging side is the endpoint itself; the far side is looked up by address.
  r.src_endpoint = egress ? endpoint : (ctx_.endpoint_at ? ctx_.endpoint_at(rec.src) : "");
  r.dst_endpoint = egress ? (ctx_.endpoint_at ? ctx_.endpoint_at(rec.dst) : "") : endpoint;
  if (ctx_.deciding) r.policies = ctx_.deciding(endpoint, egress, r.verdict == "would-deny");
  r.count = 1;
  r.first = r.last = std::chrono::system_clock::now();
  if (ctx_.counted) ctx_.counted(r);
  agg_.add(r, FlowAggregator::Clock::now());
}

void FlowLog::flush() {
  uint64_t ticks;
  (void)!::read(timer_.get(), &ticks, sizeof(ticks));
  for (const auto& r : agg_.expire(FlowAggregator::Clock::now())) {
    log::info(r.verdict == "denied" ? "denied flow" : "would-deny flow", flow_fields(r));
  }
  if (const uint64_t n = agg_.take_overflow()) {
    log::warn("flow log: too many distinct flows; packets counted but not aggregated",
              {{"packets", std::to_string(n)}});
  }
  arm_timer();
}

void FlowLog::arm_timer() {
  if (timer_.get() < 0) return;
  itimerspec its{};
  if (auto d = agg_.next_deadline()) {
    auto left = *d - FlowAggregator::Clock::now();
    auto ns = std::max<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(left).count(),
                                1000000);
    its.it_value.tv_sec = ns / 1000000000;
    its.it_value.tv_nsec = ns % 1000000000;
  }
  ::timerfd_settime(timer_.get(), 0, &its, nullptr);
}

}  // namespace bulkhead::daemon
