#ifndef BUDGETRAIN_CLUA_SHIM_H
#define BUDGETRAIN_CLUA_SHIM_H
// Lua 5.4 for Swift. Swift cannot import Lua's function-like macros, so each one the host
// needs is restated here as a static inline function with a `br_` prefix.
//
// Errors: Swift code must never call lua_error or luaL_check* (they longjmp over Swift
// frames, skipping deinitialisers and corrupting the Swift runtime's state). A Swift function
// registered with Lua is wrapped by `br_trampoline`: the Swift side returns a result count, or
// BR_RAISE after pushing an error message, and the trampoline (a C frame) raises the error.
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <string.h>

/// Returned by a Swift function: raise the message on top of the stack, prefixed with the
/// position of the Lua code that called the function (`exp.lua:12: `), as luaL_error does.
#define BR_RAISE (-1)
/// Returned by a Swift function: raise the value on top of the stack as it is (it already
/// carries a position and a traceback, e.g. an error from a Lua function the Swift side called).
#define BR_RAISE_AS_IS (-2)

static inline const char *br_release(void) { return LUA_RELEASE; }
/// A full garbage collection (lua_gc is variadic, which Swift cannot call).
static inline void br_collect_garbage(lua_State *L) { lua_gc(L, LUA_GCCOLLECT); }
static inline int br_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int br_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline int br_multret(void) { return LUA_MULTRET; }
static inline int br_ridx_globals(void) { return LUA_RIDX_GLOBALS; }
static inline int br_noref(void) { return LUA_NOREF; }

static inline void br_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void br_newtable(lua_State *L) { lua_newtable(L); }
static inline void br_insert(lua_State *L, int idx) { lua_insert(L, idx); }
static inline void br_remove(lua_State *L, int idx) { lua_remove(L, idx); }
static inline const char *br_tostring(lua_State *L, int idx) { return lua_tolstring(L, idx, NULL); }
static inline int br_isnil(lua_State *L, int idx) { return lua_isnil(L, idx); }
static inline int br_isnoneornil(lua_State *L, int idx) { return lua_isnoneornil(L, idx); }
static inline int br_istable(lua_State *L, int idx) { return lua_istable(L, idx); }
static inline int br_isfunction(lua_State *L, int idx) { return lua_isfunction(L, idx); }
static inline lua_Number br_tonumber(lua_State *L, int idx) { return lua_tonumberx(L, idx, NULL); }
static inline void br_pushglobaltable(lua_State *L) { lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS); }
/// Opens the standard libraries, each in protected mode (luaL_openlibs may raise on memory
/// errors, which must not longjmp over the Swift caller). Returns a lua_pcall status.
static inline int br_openlibs_protected_body(lua_State *L) { luaL_openlibs(L); return 0; }
static inline int br_openlibs(lua_State *L) {
    lua_pushcfunction(L, br_openlibs_protected_body);
    return lua_pcall(L, 0, 0, 0);
}
static inline void *br_newuserdata(lua_State *L, size_t size) { return lua_newuserdatauv(L, size, 1); }
static inline int br_getmetatable_named(lua_State *L, const char *name) { return luaL_getmetatable(L, name); }
static inline int br_pcall(lua_State *L, int nargs, int nresults, int msgh) {
    return lua_pcall(L, nargs, nresults, msgh);
}
static inline int br_loadbuffer(lua_State *L, const char *buf, size_t size, const char *name) {
    return luaL_loadbufferx(L, buf, size, name, "t");
}

/// A Swift function as Lua sees it: gets the box of its closure, returns the number of
/// results it pushed, or BR_RAISE with the error message on top of the stack.
typedef int (*br_swift_function)(lua_State *L, void *box);

/// The only upvalue of every Swift function's closure: a full userdata, whose bytes no script
/// can write (a light userdata can be swapped for any other with debug.setupvalue), starting
/// with a tag that tells it from every other userdata. The zero word makes Lua's io library,
/// should a script give the slot the file-handle metatable, read it as a closed file
/// ({ FILE *f; closef == NULL }) rather than write through the tag.
typedef struct {
    uint64_t tag;
    void *zero;
    br_swift_function fn;
    void *box;
} br_function_slot;
#define BR_FUNCTION_TAG 0x6272667566756E63ULL /* "brfufunc" */

/// Calls the Swift function its slot (upvalue 1) names and raises its error, if any, from
/// this C frame. A slot that is not one (a script replaced the upvalue) is an error, not a
/// call through a pointer of the script's choosing.
static inline int br_trampoline(lua_State *L) {
    int slotIndex = lua_upvalueindex(1);
    br_function_slot *slot = (br_function_slot *)lua_touserdata(L, slotIndex);
    if (lua_type(L, slotIndex) != LUA_TUSERDATA || lua_rawlen(L, slotIndex) != sizeof(br_function_slot)
        || slot->tag != BR_FUNCTION_TAG) {
        return luaL_error(L, "this budgetrain function's upvalue was replaced (debug.setupvalue): it cannot be called");
    }
    int n = slot->fn(L, slot->box);
    if (n == BR_RAISE) {
        luaL_where(L, 1);      /* "script.lua:LINE: " of the Lua code that called us */
        lua_insert(L, -2);
        lua_concat(L, 2);
        return lua_error(L);
    }
    if (n == BR_RAISE_AS_IS) return lua_error(L);
    return n;
}

/// Pushes a C closure of `br_trampoline` whose upvalue is a slot holding `fn` and `box` (what
/// the Swift side uses to find its closure).
static inline void br_push_swift_function(lua_State *L, br_swift_function fn, void *box) {
    br_function_slot *slot = (br_function_slot *)lua_newuserdatauv(L, sizeof(br_function_slot), 0);
    slot->tag = BR_FUNCTION_TAG;
    slot->zero = NULL;
    slot->fn = fn;
    slot->box = box;
    lua_pushcclosure(L, br_trampoline, 1);
}

/// The size of the full userdata at `idx` (0 for anything else, light userdata included).
static inline size_t br_userdata_size(lua_State *L, int idx) {
    return lua_type(L, idx) == LUA_TUSERDATA ? lua_rawlen(L, idx) : 0;
}

/// The message handler given to every lua_pcall: appends a traceback to the error message.
/// A message that already carries one (an error that came back through a nested lua_pcall,
/// whose traceback covers the whole stack) is passed on unchanged, so it is not traced twice.
static inline int br_traceback_handler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg != NULL && strstr(msg, "\nstack traceback:") != NULL) return 1;
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}
static inline void br_push_traceback_handler(lua_State *L) { lua_pushcfunction(L, br_traceback_handler); }

#endif
