/*
 * jsonkind.h - what kind of JSON value a jansson value is, as messages name it ("an
 * integer", "a list"): the config file and the request validator say it the same way.
 */
#ifndef ENCODERD_JSONKIND_H
#define ENCODERD_JSONKIND_H

#include <jansson.h>

static inline const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

#endif
