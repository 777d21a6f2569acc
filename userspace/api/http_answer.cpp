#include "api/http_answer.h"

#include "outputs/json_writer.h"

namespace synfin::api {

// Invalid UTF-8 in an echoed parameter becomes U+FFFD (outputs/json_writer.h): an answer is
// never refused because of what it reports.
std::string error_body(std::string_view message) {
  return outputs::json_text([&](outputs::JsonWriter& json) {
    json.begin_object();
    json.key("error");
    json.string(message);
    json.end_object();
  });
}

}  // namespace synfin::api
