#pragma once
// The ladder of a connection drawn for people: as text art for a terminal (`synfin ladder`)
// and as SVG for the daemon's web page (/conn/<cookie>), readable when printed.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "decode/recording.h"
#include "model/ladder.h"
#include "outputs/json_lines.h"

namespace synfin::outputs {

std::string render_ladder_text(const model::Ladder& ladder, const Clock& clock);
std::string render_ladder_svg(const model::Ladder& ladder, const Clock& clock);

// Every connection a recording shows (closed, or open when it ends), as ladder ends.
std::vector<model::LadderEnd> ladder_ends_of(const decode::Recording& recording);
// The text ladder of `cookie`, or of every connection but listeners (each end drawn once, with
// its peer when both ends are in the recording), in the order they were first seen.
std::string render_recording_ladders(const decode::Recording& recording,
                                     std::optional<uint64_t> cookie);

}  // namespace synfin::outputs
