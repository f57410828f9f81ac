// round.h is header-only so every kernel inlines the same contract; this unit keeps the
// kernels library non-empty while it only has header kernels, and checks the header compiles alone.
#include "kernels/ref/round.h"
