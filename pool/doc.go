// Package pool is poolkit's engine.
package pool
