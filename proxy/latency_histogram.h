// The latency histogram lives in pool/ (pool wait times use it too); proxy code keeps its name.
#pragma once

#include "pool/latency_histogram.h"

namespace shardgate::proxy {
using pool::LatencyHistogram;
}  // namespace shardgate::proxy
