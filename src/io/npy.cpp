#include "ir/tensor.h"
