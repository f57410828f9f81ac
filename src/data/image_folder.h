// Private to octet_data: how open_dataset recognises a plain folder of images.
#pragma once

#include <string>

namespace octet::data {

// True when `dir` holds no labels.txt and no .npy file at its top level (those make it an npy
// folder), and holds an image file (*.png, *.jpg, *.jpeg by name) at its top level or in one of
// its subfolders. Looks at names only; throws Error only if `dir` cannot be listed.
bool looks_like_image_folder(const std::string& dir);

}  // namespace octet::data
