// Result<T>: a value or an {errno, message} error. No exceptions cross
// module boundaries; g++ 12 has no std::expected.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace listenq {

struct Error {
	int err = 0;          // errno-style code (positive), 0 if none applies
	std::string message;  // names the object: "attach fentry/inet_csk_accept: ..."

	// "what: strerror(err)" when err is set, else just "what".
	static Error from_errno(int err, const std::string &what)
	{
		return Error{err, err ? what + ": " + std::strerror(err) : what};
	}
	// Wraps an error with outer context: "outer: inner".
	Error context(const std::string &outer) const { return Error{err, outer + ": " + message}; }
};

// strerror, naming the kernel-internal ENOTSUPP (524) that strerror does
// not know (e.g. a trampoline that cannot take 7 arguments).
inline std::string errno_name(int err)
{
	return err == 524 ? "ENOTSUPP" : std::strerror(err);
}

// errno_name with the number.
inline std::string errno_text(int err) { return errno_name(err) + " (" + std::to_string(err) + ")"; }

template <typename T>
class [[nodiscard]] Result {
public:
	Result(T value) : v_(std::move(value)) {}
	Result(Error e) : v_(std::move(e)) {}

	bool ok() const { return v_.index() == 0; }
	explicit operator bool() const { return ok(); }
	T &value() & { return std::get<0>(v_); }
	const T &value() const & { return std::get<0>(v_); }
	T &&value() && { return std::get<0>(std::move(v_)); }
	T *operator->() { return &value(); }
	const T *operator->() const { return &value(); }
	T &operator*() & { return value(); }
	const T &operator*() const & { return value(); }
	T &&operator*() && { return std::move(*this).value(); }
	const Error &error() const { return std::get<1>(v_); }

private:
	std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
	Result() = default;
	Result(Error e) : err_(std::move(e)), ok_(false) {}
	bool ok() const { return ok_; }
	explicit operator bool() const { return ok_; }
	const Error &error() const { return err_; }

private:
	Error err_;
	bool ok_ = true;
};

}  // namespace listenq
