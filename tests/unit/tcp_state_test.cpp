#include <gtest/gtest.h>
#include "model/tcp_state.h"
TEST(X, Y) { EXPECT_TRUE(synfin::model::is_legal_transition(synfin::model::TcpState::Close, synfin::model::TcpState::SynSent)); }
