// CZlib: Debian's zlib1g-dev, for compressing ensemble state files.
#pragma once
#include <zlib.h>
