// Checks the `.BTF` section of an object before libbpf opens it. libbpf 1.1 checks the
// sizes of BTF types but follows their type references unchecked (an id past the last
// type, a typedef that names itself), so a malformed object that still matches its
// digests could crash or hang it; this check refuses such objects first.
#pragma once

#include <string>
#include <string_view>

namespace btap::runtime {

// False, with a message naming the type, when a type's kind is unknown, a name or
// type id points outside the section, or a chain of typedefs and modifiers loops.
bool CheckBtf(std::string_view btf, std::string* error);

}  // namespace btap::runtime
