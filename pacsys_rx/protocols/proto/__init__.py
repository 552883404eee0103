"""protocols/proto"""
